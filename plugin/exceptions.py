"""Specific errors with one common base, so callers can catch precisely or broadly."""


class TriageError(Exception):
    """Base class for every error this package raises on purpose."""


class ConfigError(TriageError):
    """A settings value or file is invalid."""


class TaxonomyError(ConfigError):
    """The taxonomy file is invalid; the message names the field and, where known, the line."""


class LLMError(TriageError):
    """The LLM call failed in a way that should trigger the fallback.

    Attributes:
        kind: short machine-readable reason (timeout, rate_limited, server_error, invalid_json,
            truncated, invalid_label, invalid_response, refusal, connection, auth, bad_request,
            unexpected).
        attempts: how many calls were made.
        prompt_tokens / completion_tokens: usage spent before failing (for cost tracking).
    """

    def __init__(self, kind: str, message: str = "", *, attempts: int = 1,
                 prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
        super().__init__(f"{kind}: {message}" if message else kind)
        self.kind = kind
        self.attempts = attempts
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens


class HelpdeskError(TriageError):
    """A helpdesk REST call failed after its retries (or cannot be retried)."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class PayloadError(TriageError):
    """A webhook payload is malformed; the message is safe to return to the sender."""
