"""helpdesk-triage plugin core: redact, normalise, budget, classify, decide."""

__version__ = "0.1.0"
