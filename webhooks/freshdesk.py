"""Freshdesk receiver: automation webhooks are unsigned, so a shared secret is required."""

from __future__ import annotations

import base64
import hmac

from flask import Blueprint, Request, request

from plugin.config import Settings

from .errors import Rejection, answer, reject
from .intake import Delivery
from .runtime import get_committer, metrics, settings

bp = Blueprint("freshdesk", __name__, url_prefix="/webhooks")


def _presented_secrets(req: Request, header: str) -> list[str]:
    """The secret from the configured header, or the password (or user) of Basic auth."""
    found = []
    if req.headers.get(header):
        found.append(req.headers[header])
    auth = req.headers.get("Authorization", "")
    if auth[:6].lower() == "basic ":
        try:
            user, _, password = base64.b64decode(auth[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return found
        found += [p for p in (password, user) if p]  # Freshdesk's "API key" option sends it as user
    return found


def verify(req: Request, cfg: Settings | None = None) -> bytes:
    """Constant-time shared-secret check; returns the raw body (not parsed here).

    Raises:
        Rejection: 401 missing or wrong secret.
    """
    cfg = cfg or settings()
    raw = req.get_data(cache=True)
    if cfg.freshdesk_webhook_secret is None:
        raise Rejection(401, "no webhook secret configured")
    expected = cfg.freshdesk_webhook_secret.get_secret_value().encode()
    presented = _presented_secrets(req, cfg.freshdesk_secret_header)
    if not presented:
        raise Rejection(401, "missing shared secret")
    # compare every candidate (no early exit) so timing does not reveal which one was checked
    ok = False
    for candidate in presented:
        ok |= hmac.compare_digest(expected, candidate.encode())
    if not ok:
        raise Rejection(401, "invalid shared secret")
    return raw


@bp.post("/freshdesk")
def receive():
    req, cfg, m = request._get_current_object(), settings(), metrics()  # once (see zendesk.receive)
    with m.accept_timer("freshdesk").time():
        try:
            raw = verify(req, cfg)
        except Rejection as exc:
            return reject(exc.status, exc.reason, "freshdesk")
        delivery = Delivery("freshdesk", raw, form=req.mimetype == "application/x-www-form-urlencoded")
        return answer(get_committer().submit(delivery), "freshdesk", m)
