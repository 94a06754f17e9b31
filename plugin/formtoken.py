"""Short-lived form tokens, bound to one browser origin, signed with ``itsdangerous``.

A public page cannot keep an API key secret, so when an admin opens the ticket form to the public
(``form_public_origins``) the server hands the page a token instead: ``frm.`` + an
``itsdangerous`` URL-safe timed signature over ``{"o": origin, "n": nonce}``. It is accepted only
by the form's endpoints, only until ``max_age_s`` has passed, and only with an ``Origin`` header
equal to the origin it was issued for (which must still be listed). It is not a secret from the
visitor: it only stops other sites' pages from using the form, and its callers are rate limited.
No state is stored per token.
"""

from __future__ import annotations

import fcntl
import hmac
import os
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Any, Callable

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from .instance import ensure_instance_dir
from .private_files import private_file

PREFIX = "frm."
SALT = "triage.form-token.v2"  # a signature made for anything else never verifies as a form token
SECRET_FILE = "form_secret"


class Check(StrEnum):
    """Outcome of :func:`verify`; anything but ``OK`` is refused (invalid/expired 401, origin 403)."""

    OK = "ok"
    INVALID = "invalid"
    EXPIRED = "expired"
    WRONG_ORIGIN = "wrong_origin"


def load_secret(instance_dir: str | Path, configured: str | None = None) -> bytes:
    """The signing secret: the configured one, else a random one kept in the instance dir.

    Keeping it in a file means tokens survive restarts and are shared by processes that share the
    instance dir; the file is created owner-only (0600).
    """
    if configured:
        return configured.encode("utf-8")
    path = ensure_instance_dir(instance_dir) / SECRET_FILE
    if not path.exists() or not path.stat().st_size:
        private_file(path)
        with open(path, "r+", encoding="utf-8") as fh:  # only the first process writes into it
            fcntl.flock(fh, fcntl.LOCK_EX)
            if not fh.read().strip():
                fh.seek(0)
                fh.write(secrets.token_urlsafe(32))
                fh.flush()
                os.fsync(fh.fileno())
    return path.read_text("utf-8").strip().encode("utf-8")


def _serializer(secret: bytes, clock: Callable[[], float] | None) -> URLSafeTimedSerializer:
    if clock is None:
        return URLSafeTimedSerializer(secret, salt=SALT)

    class _Signer(TimestampSigner):  # an injectable clock for tests; production uses time.time
        def get_timestamp(self) -> int:
            return int(clock())
    return URLSafeTimedSerializer(secret, salt=SALT, signer=_Signer)


def issue(secret: bytes, origin: str, *, clock: Callable[[], float] | None = None) -> str:
    """A token for pages served to ``origin`` (``scheme://host[:port]``); its age is signed in."""
    return PREFIX + _serializer(secret, clock).dumps({"o": origin, "n": secrets.token_hex(4)})


def verify(secret: bytes, token: str, origin: str | None, max_age_s: int, *,
           clock: Callable[[], float] | None = None) -> Check:
    """Check signature, age and origin binding. ``origin`` is the request's ``Origin`` header."""
    if not token.startswith(PREFIX):
        return Check.INVALID
    serializer = _serializer(secret, clock)
    try:
        payload: Any = serializer.loads(token[len(PREFIX):], max_age=max_age_s)
    except SignatureExpired:
        return Check.EXPIRED
    except BadSignature:
        return Check.INVALID
    bound = payload.get("o") if isinstance(payload, dict) else None
    if not isinstance(bound, str):
        return Check.INVALID
    if not origin or not hmac.compare_digest(bound.encode(), origin.encode()):
        return Check.WRONG_ORIGIN
    return Check.OK


def looks_like_form_token(token: str) -> bool:
    return token.startswith(PREFIX)
