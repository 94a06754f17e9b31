"""Zendesk receiver: verify the HMAC signature on the raw body, then hand it to the intake."""

from __future__ import annotations

import time

from flask import Blueprint, Request, request

from plugin.config import Settings

from .errors import Rejection, answer, reject
from .intake import Delivery
from .runtime import get_committer, metrics, settings
from .signature import ZENDESK_TEST_SECRET, parse_timestamp, signature_matches

bp = Blueprint("zendesk", __name__, url_prefix="/webhooks")
SIG_HEADER = "X-Zendesk-Webhook-Signature"
TS_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
_SIG_ENVIRON = "HTTP_" + SIG_HEADER.upper().replace("-", "_")
_TS_ENVIRON = "HTTP_" + TS_HEADER.upper().replace("-", "_")


def verify(req: Request, cfg: Settings | None = None, *, now: float | None = None) -> bytes:
    """Check signature and timestamp on the exact raw bytes; returns them (not parsed here).

    Raises:
        Rejection: 401 unsigned, forged or stale.
    """
    cfg = cfg or settings()
    raw = req.get_data(cache=True)  # the exact bytes that were signed
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
    return raw


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
            raw = verify(req, cfg)
        except Rejection as exc:
            return reject(exc.status, exc.reason, "zendesk")
        # Only the signed body goes on: an unsigned header (the invocation id) must not make a
        # replayed body look new (payloads.dedup_key).
        delivery = Delivery("zendesk", raw)
        return answer(get_committer().submit(delivery), "zendesk", m)
    finally:
        timer.observe(time.perf_counter() - t0)
