"""Browser origins (``scheme://host[:port]``) as admins list them and as browsers send them.

Both sides go through :func:`normalize_origin`, so ``https://Support.Example.com:443/`` in the
settings matches the ``Origin: https://support.example.com`` a browser sends.
"""

from __future__ import annotations

from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_origin(value: str) -> str:
    """``scheme://host[:port]`` lower-cased, default port dropped; ValueError if not an origin.

    Wildcards are refused on purpose: opening the form means naming the sites that may use it.
    """
    raw = value.strip()
    parts = urlsplit(raw)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or "*" in raw:
        raise ValueError(f"{value!r} is not an origin like https://support.example.com (no wildcards)")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{value!r}: an origin has no path, query or user part")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{value!r}: invalid port") from None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    suffix = f":{port}" if port is not None and port != _DEFAULT_PORTS[parts.scheme] else ""
    return f"{parts.scheme}://{host}{suffix}"


def origin_or_none(value: str | None) -> str | None:
    """A request's ``Origin`` header normalised, or None if absent or malformed (``null`` too)."""
    if not value:
        return None
    try:
        return normalize_origin(value)
    except ValueError:
        return None
