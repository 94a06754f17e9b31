"""Short-lived signed tokens that let the served ticket form call the classify endpoint.

The form is public, so it cannot hold a real API key. Instead the server signs
``frm.<expiry>.<nonce>`` with a secret only it knows (HMAC-SHA256) and embeds the token in the
page. A form token is accepted only by the form's own endpoints (classify, ticket submit), only
until it expires, and its callers are rate limited by client address; API keys are never accepted
by the submit endpoint, and form tokens never by anything else. No state is stored per token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

PREFIX = "frm"
SECRET_FILE = "form_secret"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def load_secret(instance_dir: str | Path, configured: str | None = None) -> bytes:
    """The signing secret: the configured one, else a random one kept in the instance dir.

    Keeping it in a file means tokens survive restarts and are shared by processes that share the
    instance dir; the file is created owner-only.
    """
    if configured:
        return configured.encode("utf-8")
    path = Path(instance_dir) / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process won the race; use its secret
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(32))
    return path.read_text("utf-8").strip().encode("utf-8")


def issue(secret: bytes, ttl_s: int, now: float | None = None) -> str:
    """A token valid for ``ttl_s`` seconds from ``now``."""
    expiry = int((time.time() if now is None else now) + ttl_s)
    body = f"{PREFIX}.{expiry}.{secrets.token_hex(8)}"
    return f"{body}.{_sign(secret, body)}"


def verify(secret: bytes, token: str, now: float | None = None) -> bool:
    """True iff the token was signed with ``secret`` and has not expired."""
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != PREFIX or not parts[1].isdigit():
        return False
    body = ".".join(parts[:3])
    if not hmac.compare_digest(_sign(secret, body), parts[3]):
        return False
    return int(parts[1]) > (time.time() if now is None else now)


def looks_like_form_token(token: str) -> bool:
    return token.startswith(PREFIX + ".")


def _sign(secret: bytes, body: str) -> str:
    return _b64(hmac.new(secret, body.encode("utf-8"), hashlib.sha256).digest())
