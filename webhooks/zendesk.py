"""Zendesk receiver: verify the HMAC signature on the raw body, parse tolerantly, accept."""

from __future__ import annotations

import time

from flask import Blueprint, Request, request

from plugin.config import Settings
from plugin.exceptions import PayloadError

from .errors import Rejection, reject
from .intake import accept
from .payloads import TicketEvent, decode_body, parse_zendesk
from .runtime import metrics, settings
from .signature import ZENDESK_TEST_SECRET, parse_timestamp, signature_matches

bp = Blueprint("zendesk", __name__, url_prefix="/webhooks")
SIG_HEADER = "X-Zendesk-Webhook-Signature"
TS_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
INVOCATION_HEADER = "X-Zendesk-Webhook-Invocation-Id"
_SIG_ENVIRON = "HTTP_" + SIG_HEADER.upper().replace("-", "_")
_TS_ENVIRON = "HTTP_" + TS_HEADER.upper().replace("-", "_")
_INVOCATION_ENVIRON = "HTTP_" + INVOCATION_HEADER.upper().replace("-", "_")


def verify_and_parse(req: Request, cfg: Settings | None = None, *,
                     now: float | None = None) -> tuple[TicketEvent, bytes]:
    """Check signature and timestamp before touching JSON, then parse.

    Raises:
        Rejection: 401 unsigned/forged, 401 stale, 400 malformed, 422 unknown event.
    """
    cfg = cfg or settings()
    raw = req.get_data(cache=True)  # the exact bytes that were signed; read before any JSON parse
    environ = req.environ  # the WSGI names of the two headers: no header-object lookups per request
    signature, timestamp = environ.get(_SIG_ENVIRON), environ.get(_TS_ENVIRON)
    if not signature or not timestamp:
        raise Rejection(401, "missing signature headers")
    secrets = [cfg.zendesk_signing_secret.get_secret_value()] if cfg.zendesk_signing_secret else []
    if cfg.zendesk_allow_test_secret:
        secrets.append(ZENDESK_TEST_SECRET)
    if not secrets:
        raise Rejection(401, "no signing secret configured")
    if not any(signature_matches(s, timestamp, raw, signature) for s in secrets):
        raise Rejection(401, "invalid signature")
    sent = parse_timestamp(timestamp)
    if sent is None:
        raise Rejection(401, "unreadable signature timestamp")
    if abs((time.time() if now is None else now) - sent) > cfg.zendesk_max_skew_s:
        raise Rejection(401, "stale signature timestamp")
    try:
        return parse_zendesk(decode_body(raw)), raw
    except PayloadError as exc:
        status = 422 if "unsupported event" in str(exc) else 400
        raise Rejection(status, str(exc)) from None


@bp.post("/zendesk")
def receive():
    # The request, settings and metrics are looked up once: every context-local lookup on this
    # path is paid per webhook, and in-process work here costs about 3× more server CPU under
    # load (GIL contention with the other request threads; see docs/webhooks.md, Benchmarks).
    req, cfg, m = request._get_current_object(), settings(), metrics()
    timer = m.accept_timer("zendesk")
    t0 = time.perf_counter()
    try:
        try:
            event, raw = verify_and_parse(req, cfg)
        except Rejection as exc:
            return reject(exc.status, exc.reason, "zendesk")
        return accept(event, raw, req.environ.get(_INVOCATION_ENVIRON), cfg=cfg, m=m)
    finally:
        timer.observe(time.perf_counter() - t0)
