"""Freshdesk receiver: automation webhooks are unsigned, so a shared secret is required."""

from __future__ import annotations

import base64
import hmac

from flask import Blueprint, Request, request

from plugin.config import Settings
from plugin.exceptions import PayloadError

from .errors import Rejection, reject
from .intake import accept
from .payloads import TicketEvent, decode_body, parse_freshdesk
from .runtime import metrics, settings

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


def verify_and_parse(req: Request, cfg: Settings | None = None) -> tuple[TicketEvent, bytes]:
    """Constant-time secret check, then tolerant parse.

    Raises:
        Rejection: 401 missing/wrong secret, 400 malformed body or missing ticket id.
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
    try:
        if req.mimetype == "application/x-www-form-urlencoded":
            return parse_freshdesk(req.form.to_dict()), raw
        return parse_freshdesk(decode_body(raw)), raw
    except PayloadError as exc:
        raise Rejection(400, str(exc)) from None


@bp.post("/freshdesk")
def receive():
    req, cfg, m = request._get_current_object(), settings(), metrics()  # once (see zendesk.receive)
    with m.accept_timer("freshdesk").time():
        try:
            event, raw = verify_and_parse(req, cfg)
        except Rejection as exc:
            return reject(exc.status, exc.reason, "freshdesk")
        return accept(event, raw, cfg=cfg, m=m)
