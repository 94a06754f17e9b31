"""HTTP for the vendor clients: one session, status codes mapped to specific errors.

The clients never sleep: a 429 or 5xx becomes a retryable ``HelpdeskError`` (with ``retry_after``
for 429/503), and the job's ``RetryPolicy`` decides when to try again through the queue, so a
worker thread is never parked on a vendor's rate limit.
"""

from __future__ import annotations

import logging
from typing import Any

import requests

from plugin.exceptions import HelpdeskError

log = logging.getLogger(__name__)
DEFAULT_TIMEOUT_S = 10.0


class RateLimitedError(HelpdeskError):
    """429 (or 503 with Retry-After); ``retry_after`` is in seconds."""

    def __init__(self, message: str, *, status: int, retry_after: float | None) -> None:
        super().__init__(message, status=status, retryable=True)
        self.retry_after = retry_after


class ConflictError(HelpdeskError):
    """Zendesk safe_update said the ticket changed since we read it (409)."""


class NotFoundError(HelpdeskError):
    """The ticket does not exist (or was deleted)."""


def parse_retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class Transport:
    """A requests session bound to a base URL and auth, with error mapping."""

    def __init__(self, base_url: str, auth: tuple[str, str], *, timeout_s: float = DEFAULT_TIMEOUT_S,
                 vendor: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.auth = auth
        self.session.headers.update({"Accept": "application/json"})
        self.timeout_s = timeout_s
        self.vendor = vendor

    def request(self, method: str, path: str, json: Any = None) -> Any:
        url = f"{self.base_url}{path}"
        try:
            resp = self.session.request(method, url, json=json, timeout=self.timeout_s)
        except requests.RequestException as exc:  # timeouts, resets, broken chunked bodies
            raise HelpdeskError(f"{self.vendor} {method} {path}: {type(exc).__name__}", retryable=True) from exc
        status = resp.status_code
        if status < 300:
            try:
                return resp.json() if resp.content else None
            except ValueError as exc:  # a proxy's HTML page, a truncated body: try again later
                raise HelpdeskError(f"{self.vendor} {method} {path}: invalid JSON", status=status,
                                    retryable=True) from exc
        where = f"{self.vendor} {method} {path}: HTTP {status}"
        if status == 429 or (status == 503 and "Retry-After" in resp.headers):
            raise RateLimitedError(where, status=status,
                                   retry_after=parse_retry_after(resp.headers.get("Retry-After")))
        if status == 409:
            raise ConflictError(where, status=status, retryable=True)
        if status == 404:
            raise NotFoundError(where, status=status)
        if status >= 500:
            raise HelpdeskError(where, status=status, retryable=True)
        # 400/401/403/422: retrying the same request cannot help.
        raise HelpdeskError(f"{where} {_error_hint(resp)}", status=status, retryable=False)

    def close(self) -> None:
        self.session.close()


def _error_hint(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        err = body.get("error") or body.get("code") or body.get("description") or ""
        return str(err)[:80]
    return ""
