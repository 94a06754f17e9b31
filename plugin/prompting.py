"""Render classification prompts from jinja2 templates into chat messages.

Templates live in ``prompts/`` (or any file an admin points at). Admins edit them, so they are
rendered in jinja2's ``SandboxedEnvironment``: a template can format data but cannot reach Python
internals. A template defines three blocks: ``version``, ``system`` (the static taxonomy prefix,
identical for every ticket so providers can cache it) and ``user`` (examples, then the ticket).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Sequence

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from .exceptions import ConfigError
from .taxonomy import Taxonomy

DEFAULT_TEMPLATE = "classify_v1"
MAX_CATEGORY_EXAMPLES = 3  # per category in the static prefix; more cost tokens on every call


@dataclass(frozen=True)
class Example:
    """A labelled, already redacted ticket used as a few-shot example."""

    text: str
    label: str


@dataclass(frozen=True)
class Prompt:
    """Rendered chat messages plus the template version that produced them."""

    messages: list[dict[str, str]]
    version: str

    @property
    def text(self) -> str:
        return "\n\n".join(m["content"] for m in self.messages)


def _untag(value: object) -> str:
    """Keep ticket text from closing our ``<ticket>``/``<example>`` tags (prompt injection)."""
    return str(value).replace("<", "‹").replace(">", "›")


_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
_env.filters["untag"] = _untag
_env_lock = threading.Lock()


@lru_cache(maxsize=32)
def load_template(name_or_path: str) -> Template:
    """Compile a template by name (``classify_v1`` from ``prompts/``) or by file path."""
    try:
        if name_or_path.endswith(".j2") or "/" in name_or_path or "\\" in name_or_path:
            source = Path(name_or_path).read_text("utf-8")
        else:
            source = resources.files("prompts").joinpath(f"{name_or_path}.j2").read_text("utf-8")
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read prompt template {name_or_path!r}: {exc}") from exc
    try:
        with _env_lock:
            template = _env.from_string(source)
    except TemplateError as exc:
        raise ConfigError(f"prompt template {name_or_path!r} is invalid: {exc}") from exc
    missing = {"version", "system", "user"} - set(template.blocks)
    if missing:
        raise ConfigError(f"prompt template {name_or_path!r} lacks blocks: {', '.join(sorted(missing))}")
    return template


def render(template: str, taxonomy: Taxonomy, ticket: str, *, subject: str | None = None,
           examples: Sequence[Example] = ()) -> Prompt:
    """Render a template into system and user messages.

    Args:
        template: template name in ``prompts/`` or a path to a ``.j2`` file.
        taxonomy: categories for the static prefix.
        ticket: the redacted, truncated ticket text.
        subject: optional redacted subject line.
        examples: retrieved few-shot examples (already redacted and budgeted).

    Returns:
        A Prompt whose ``messages`` can go straight to the chat completions API.

    Raises:
        ConfigError: the template is missing, invalid, or tries something the sandbox forbids.
    """
    tmpl = load_template(template)
    variables = {
        "categories": [c.model_dump() for c in taxonomy.categories],
        "other": taxonomy.other,
        "max_category_examples": MAX_CATEGORY_EXAMPLES,
        "ticket": ticket,
        "subject": subject or "",
        "examples": [{"text": e.text, "label": e.label} for e in examples],
    }
    try:
        ctx = tmpl.new_context(variables)
        parts = {name: "".join(tmpl.blocks[name](ctx)).strip() for name in ("version", "system", "user")}
    except TemplateError as exc:  # includes SecurityError from the sandbox
        raise ConfigError(f"prompt template {template!r} failed to render: {exc}") from exc
    messages = [{"role": "system", "content": parts["system"]}, {"role": "user", "content": parts["user"]}]
    return Prompt(messages=messages, version=parts["version"] or template)
