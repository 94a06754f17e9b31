"""The common tail of both receivers: guard check → durable store → 2xx (the dispatcher enqueues)."""

from __future__ import annotations

import logging
from functools import lru_cache

from flask import Response, jsonify

from plugin.config import Settings
from plugin.corrections import note_agent_edit
from plugin.helpdesk.tags import safe_tag

from .errors import reject
from .payloads import TicketEvent, dedup_key
from .metrics import Metrics
from .runtime import get_committer, get_store

log = logging.getLogger("webhooks")


def accept(event: TicketEvent, raw: bytes, invocation_id: str | None = None, *,
           cfg: Settings, m: Metrics):
    """Answer 202 only once the event row is committed (group commit: ``committer`` in process,
    ``writer`` under ``triage serve``).

    The row is the only durable write; the dispatcher thread enqueues it after the commit. If that
    fails or the process dies first, the row stays ``received`` and the recovery sweep picks it up,
    so the 202 is truthful.
    """
    if event.tags and _guard_tag(cfg.guard_tag) in event.tags:
        # an update of a ticket we classified: did an agent change our category? (best effort)
        note_agent_edit(cfg, get_store(), None, vendor=event.vendor,
                        ticket_id=event.ticket_id, tags=event.tags, category=event.extra.get("category"),
                        text=event.text)
        m.webhook_outcome(event.vendor, "ignored_guard").inc()
        return jsonify(status="ignored", reason="guard tag present: already classified"), 200
    try:
        event_id, created = get_committer().add(vendor=event.vendor, ticket_id=event.ticket_id,
                                                dedup_key=dedup_key(event, raw, invocation_id),
                                                event_type=event.event_type, payload=event.audit_payload())
    except Exception as exc:
        log.error("cannot store %s event for ticket %s: %s", event.vendor, event.ticket_id, type(exc).__name__)
        return reject(503, "event store unavailable, retry later", event.vendor)
    if not created:
        m.webhook_outcome(event.vendor, "duplicate").inc()
        return _json(f'{{"event_id":"{event_id}","status":"duplicate"}}\n', 200)
    m.webhook_outcome(event.vendor, "accepted").inc()
    return _json(f'{{"event_id":"{event_id}","status":"accepted"}}\n', 202)


def _json(body: str, status: int) -> Response:
    """The hot path's answer, same bytes as ``jsonify`` (event ids are hex: nothing to escape)."""
    return Response(body, status, content_type="application/json")


@lru_cache(maxsize=8)
def _guard_tag(value: str) -> str:
    return safe_tag(value)
