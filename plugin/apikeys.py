"""API keys for the client endpoints: create, verify, list, revoke; stored hashed.

Stored in ``instance/apikeys.sqlite3``, or in PostgreSQL with ``database_url`` (every receiver host
then accepts the same keys); ``plugin.db`` opens either.

A key is ``trk_<id>_<secret>``: ``id`` (12 hex chars) finds the row, ``secret`` (32 random bytes,
URL-safe base64) is the password. Only the SHA-256 of the whole token is stored; a plain hash is
enough because the secret has 256 bits of entropy (no dictionary to attack), and verification
compares digests in constant time. Each key carries one scope so a key made for ``classify``
cannot be replayed against another endpoint family (and vice versa).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from .config import Settings
from .db import Database, migrate, open_database
from .exceptions import TriageError
from .instance import ensure_instance_dir

PREFIX = "trk"
SCOPES = ("classify", "form", "admin")  # form: /form/tickets (creates tickets); admin: operator endpoints
DEFAULT_DB_NAME = "apikeys.sqlite3"

MIGRATIONS = ["""
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    scope TEXT NOT NULL,
    token_sha256 TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    revoked_at DOUBLE PRECISION
)
"""]
_COLUMNS = "key_id, name, scope, created_at, revoked_at"


class ApiKeyError(TriageError):
    """A key operation was refused (unknown key, bad scope)."""


@dataclass(frozen=True)
class ApiKey:
    """A stored key, without its secret."""

    key_id: str
    name: str
    scope: str
    created_at: float
    revoked_at: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_token(token: str) -> str | None:
    """Return the key id embedded in a token, or None if the token is not shaped like ours."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or len(parts[1]) != 12 or not parts[2]:
        return None
    try:
        int(parts[1], 16)
    except ValueError:
        return None
    return parts[1]


class KeyStore:
    """The key table (``plugin.db``: a SQLite file or PostgreSQL); safe across threads."""

    def __init__(self, target: Database | str | Path) -> None:
        self.db = open_database(target)  # SQLite: created 0600 (key digests: owner-only)
        self.path = self.db.path
        migrate(self.db, "api_keys", MIGRATIONS)

    @classmethod
    def for_instance(cls, instance_dir: str | Path) -> "KeyStore":
        return cls(ensure_instance_dir(instance_dir) / DEFAULT_DB_NAME)

    @classmethod
    def for_settings(cls, settings: Settings) -> "KeyStore":
        """PostgreSQL when ``database_url`` is set (keys shared by every host), else the instance file."""
        if settings.database_url is not None:
            return cls(settings.database_url.get_secret_value())
        return cls.for_instance(settings.instance_dir)

    def create(self, name: str, scope: str = "classify") -> tuple[ApiKey, str]:
        """Create a key; returns the stored record and the token, which is shown only this once."""
        if scope not in SCOPES:
            raise ApiKeyError(f"unknown scope {scope!r}; choose one of {', '.join(SCOPES)}")
        key_id = secrets.token_hex(6)
        token = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        key = ApiKey(key_id=key_id, name=name, scope=scope, created_at=time.time())
        self.db.execute("INSERT INTO api_keys (key_id, name, scope, token_sha256, created_at, revoked_at)"
                        " VALUES (?, ?, ?, ?, ?, NULL)",
                        (key.key_id, key.name, key.scope, _digest(token), key.created_at))
        return key, token

    def list(self) -> list[ApiKey]:
        rows = self.db.execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at").fetchall()
        return [ApiKey(**dict(row)) for row in rows]

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke by id (idempotent: revoking twice keeps the first time)."""
        self.db.execute("UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                        (time.time(), key_id))
        row = self.db.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,)).fetchone()
        if row is None:
            raise ApiKeyError(f"no key with id {key_id!r}")
        return ApiKey(**dict(row))

    def verify(self, token: str) -> ApiKey | None:
        """Return the key if ``token`` matches an active key; None otherwise.

        The caller checks ``scope``, so it can answer 403 (wrong endpoint) apart from 401.
        """
        key_id = parse_token(token)
        if key_id is None:
            return None
        row = self.db.execute(f"SELECT {_COLUMNS}, token_sha256 FROM api_keys WHERE key_id = ?",
                              (key_id,)).fetchone()
        if row is None:
            return None
        data = dict(row)
        stored = data.pop("token_sha256")
        key = ApiKey(**data)
        if not hmac.compare_digest(stored, _digest(token)) or not key.active:
            return None
        return key
