"""The client endpoints' front door: who is calling, may they, how often, and CORS.

Shared by ``classify_api`` and ``form`` so both answer auth, size and rate problems the same way:
a JSON body ``{"error": ...}`` with the right status (401, 403, 413, 429 + ``Retry-After``).

Secure by default: every call needs an API key of the endpoint's scope. The one exception is a
form token, and only where the admin opened the form to the public (``form_public_origins``):
such a token is bound to the origin it was issued for, and is accepted only with an ``Origin``
header equal to it (no header, another origin, or an origin no longer listed: 403).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from plugin import formtoken
from plugin.apikeys import KeyStore
from plugin.config import Settings
from plugin.formtoken import Check
from plugin.origins import origin_or_none
from plugin.ratelimit import RateLimiter

_EXPOSED = "Retry-After, X-Triage-Model-Version"


class ClientError(Exception):
    """An error to answer as ``{"error": message}`` with ``status`` and optional headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: ``kind`` is key, form or anonymous; ``bucket`` is its rate bucket."""

    kind: str
    bucket: str


def settings() -> Settings:
    return current_app.config["SETTINGS"]


def _state(name: str, factory: Any) -> Any:
    """Per-app singletons (key store, limiter, form secret), created on first use."""
    key = f"triage.client.{name}"
    if key not in current_app.extensions:
        current_app.extensions[key] = factory()
    return current_app.extensions[key]


def key_store() -> KeyStore:
    return _state("keys", lambda: KeyStore.for_settings(settings()))


def limiter() -> RateLimiter:
    """Buckets per API key (and per address for anonymous calls): ``classify_rate_per_minute``."""
    return _state("limiter", lambda: RateLimiter(settings().classify_rate_per_minute))


def form_limiter() -> RateLimiter:
    """Buckets per client address for form-token calls: ``form_rate_per_minute``."""
    return _state("form_limiter", lambda: RateLimiter(settings().form_rate_per_minute))


def admin_login_limiter(per_minute: int) -> RateLimiter:
    """Buckets per client address for ``/admin`` login attempts."""
    return _state("admin_login", lambda: RateLimiter(per_minute))


def form_secret() -> bytes:
    s = settings()
    return _state("form_secret", lambda: formtoken.load_secret(
        s.instance_dir, s.form_secret.get_secret_value() if s.form_secret else None))


def json_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    resp = Response(json.dumps({"error": message}), status=status, mimetype="application/json")
    for name, value in (headers or {}).items():
        resp.headers[name] = value
    return resp


def request_origin() -> str | None:
    """The request's ``Origin`` header, normalised (None when absent or malformed)."""
    return origin_or_none(request.headers.get("Origin"))


def form_origin() -> str | None:
    """The listed origin a form page or token is being requested for, else None.

    A cross-origin fetch names its origin in ``Origin``; the page itself (a same-origin GET, no
    ``Origin``) is this service's own origin as the browser reached it.
    """
    listed = settings().form_public_origins
    if request.headers.get("Origin"):
        origin = request_origin()
        return origin if origin in listed else None
    own = origin_or_none(request.host_url)
    if own in listed:
        return own
    # behind a TLS-terminating proxy the service sees http:// for the page the browser loaded over
    # https://; the listed origin with this Host is the one to bind (each use re-checks Origin)
    host = request.host.lower()
    return next((o for o in listed if urlsplit(o).netloc == host), None)


def authenticate(scope: str, *, allow_key: bool, allow_form: bool, allow_anonymous: bool) -> Caller:
    """Identify the caller from ``Authorization: Bearer …`` or raise ClientError (401/403)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if not header:
        if allow_anonymous:
            return Caller("anonymous", f"ip:{request.remote_addr}")
        raise ClientError(401, "missing API key: send 'Authorization: Bearer <key>'",
                          {"WWW-Authenticate": "Bearer"})
    if scheme.lower() != "bearer" or not token:
        raise ClientError(401, "malformed Authorization header: expected 'Bearer <key>'",
                          {"WWW-Authenticate": "Bearer"})
    if formtoken.looks_like_form_token(token):
        return _form_caller(token, allow_form)
    key = key_store().verify(token)
    if key is None:
        raise ClientError(401, "invalid or revoked API key",
                          {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if not allow_key or key.scope != scope:
        raise ClientError(403, f"this key has scope {key.scope!r}; this endpoint needs {scope!r}")
    return Caller("key", f"key:{key.key_id}")


def _form_caller(token: str, allow_form: bool) -> Caller:
    """A form token is good only on the form's endpoints, only when the form is open to the
    public, and only from a listed origin equal to the one it was issued for."""
    s = settings()
    if not allow_form:
        raise ClientError(403, "form tokens are not accepted by this endpoint")
    if not s.form_public_origins:
        raise ClientError(403, "the ticket form is not open to the public (form_public_origins); use an API key")
    origin = request_origin()
    check = formtoken.verify(form_secret(), token, origin, s.form_token_ttl_s)
    if check in (Check.INVALID, Check.EXPIRED):
        raise ClientError(401, "form token invalid or expired; reload the form",
                          {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if check is not Check.OK or origin not in s.form_public_origins:
        raise ClientError(403, "form tokens are accepted only with the Origin header of the page they "
                               "were issued to, and only from origins listed in form_public_origins")
    return Caller("form", f"form:{request.remote_addr}")


def check_rate(caller: Caller, cost: int = 1) -> None:
    form = caller.kind == "form"
    verdict = (form_limiter() if form else limiter()).take(caller.bucket, cost)
    if not verdict.allowed:
        rate = settings().form_rate_per_minute if form else settings().classify_rate_per_minute
        raise ClientError(429, f"rate limit exceeded ({rate}/minute); retry in {verdict.retry_after_s} s",
                          {"Retry-After": str(verdict.retry_after_s)})


def read_json() -> Any:
    """The request body as JSON, within ``max_body_bytes`` (413) and well-formed (400)."""
    limit = settings().max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise ClientError(413, f"request body too large (limit {limit} bytes)")
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise ClientError(413, f"request body too large (limit {limit} bytes)") from None
    if len(raw) > limit:
        raise ClientError(413, f"request body too large (limit {limit} bytes)")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ClientError(400, "request body must be JSON") from None
    except RecursionError:  # nested deeper than the parser's stack
        raise ClientError(400, "request body is nested too deeply") from None


def apply_cors(response: Response, *, classify: bool = True) -> Response:
    """CORS headers for allowed origins: the form's public origins, and for ``/v1/classify`` also
    ``cors_origins`` (``*`` allows any origin to call with an API key)."""
    s = settings()
    header = request.headers.get("Origin")
    allowed = s.cors_origins if classify else []
    origin = request_origin()
    if header and ("*" in allowed or header in allowed or origin in s.form_public_origins):
        response.headers["Access-Control-Allow-Origin"] = "*" if "*" in allowed else header
        response.headers["Access-Control-Expose-Headers"] = _EXPOSED
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type, X-Triage-Extended"
            response.headers["Access-Control-Max-Age"] = "600"
    if "*" not in allowed:
        response.vary.add("Origin")
    return response
