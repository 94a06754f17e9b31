"""Zendesk webhook signatures: ``base64(HMAC-SHA256(secret, timestamp + raw_body))``. Pure."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timezone

ZENDESK_TEST_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="  # documented static test secret


def zendesk_signature(secret: str, timestamp: str, raw_body: bytes) -> str:
    """The key is the secret string's UTF-8 bytes (not base64-decoded), per Zendesk's docs."""
    mac = hmac.new(secret.encode(), timestamp.encode() + raw_body, hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def signature_matches(secret: str, timestamp: str, raw_body: bytes, signature: str) -> bool:
    expected = zendesk_signature(secret, timestamp, raw_body).encode()
    return hmac.compare_digest(expected, signature.strip().encode())


def parse_timestamp(value: str) -> float | None:
    """ISO 8601 (``2026-01-15T09:30:00Z``, fractional seconds allowed) → epoch seconds."""
    try:
        text = value.strip().replace("Z", "+00:00")
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()
