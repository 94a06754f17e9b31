"""Prompt templates (jinja2, rendered sandboxed by ``plugin.prompting``). Admins may add their own."""
