"""What happens to a webhook once its sender is authenticated: parse → guard check → durable
store → the answer. Pure apart from the store it is given.

The receivers (``zendesk``, ``freshdesk``) authenticate at the edge, so forged traffic never goes
further, then hand the raw body to their app's committer (``GroupCommitter``), which runs these
steps in the request thread. The answer is a ``Verdict``, and a 2xx verdict exists only after the
event row committed. The row is the only durable write; the
dispatcher enqueues it after the commit, and if that fails or the process dies first, the row
stays ``received`` and the recovery sweep picks it up, so the 202 is truthful.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

from plugin.config import Settings
from plugin.corrections import note_agent_edit
from plugin.exceptions import PayloadError
from plugin.helpdesk.tags import safe_tag
from plugin.store import EventStore

from .payloads import decode_body, dedup_key, parse_freshdesk, parse_zendesk

log = logging.getLogger("webhooks")
_PARSERS = {"zendesk": parse_zendesk, "freshdesk": parse_freshdesk}


@dataclass(frozen=True)
class Delivery:
    """One authenticated webhook request, as the intake needs it. Only authenticated content:
    unsigned headers (Zendesk's invocation id) never reach the dedup key."""

    vendor: str
    body: bytes
    form: bool = False  # application/x-www-form-urlencoded (Freshdesk can send that)


@dataclass(frozen=True)
class Verdict:
    """The HTTP answer: status, JSON body, the metrics outcome label, and a reason for the log."""

    status: int
    body: str
    outcome: str
    reason: str = ""


STORE_UNAVAILABLE = Verdict(503, '{"error":"event store unavailable, retry later"}\n', "rejected_503",
                            "event store unavailable, retry later")


def rejection(status: int, reason: str) -> Verdict:
    return Verdict(status, json.dumps({"error": reason}, separators=(",", ":")) + "\n", f"rejected_{status}", reason)


def prepare(settings: Settings, store: EventStore, delivery: Delivery, *,
            now: float | None = None) -> Verdict | dict[str, Any]:
    """Parse the body; returns the event row to store, or the verdict when there is nothing to store.

    400 malformed / missing ticket id, 422 unsupported event type, 200 ``ignored`` for an update of
    a ticket we classified (our guard tag present: a possible agent correction is recorded), 200
    ``duplicate`` for content already stored in the previous dedup window.
    """
    try:
        data = dict(parse_qsl(delivery.body.decode("utf-8", "replace"), keep_blank_values=True)[::-1]) \
            if delivery.form else decode_body(delivery.body)  # [::-1]: the first value of a key wins
        event = _PARSERS[delivery.vendor](data)
    except PayloadError as exc:
        return rejection(422 if "unsupported event" in str(exc) else 400, str(exc))
    if event.tags and _guard_tag(settings.guard_tag) in event.tags:
        note_agent_edit(settings, store, None, vendor=event.vendor, ticket_id=event.ticket_id, tags=event.tags,
                        category=event.extra.get("category"), text=event.text,
                        status=event.status)  # best effort, never raises
        return Verdict(200, '{"reason":"guard tag present: already classified","status":"ignored"}\n',
                       "ignored_guard")
    key, previous_window_key = dedup_key(event, data, delivery.body, now=time.time() if now is None else now)
    if previous_window_key is not None:
        earlier = store.find(event.vendor, previous_window_key)  # the same content, still in the window
        if earlier is not None:
            return stored(earlier, False)
    return {"vendor": event.vendor, "ticket_id": event.ticket_id, "dedup_key": key,
            "event_type": event.event_type, "payload": event.audit_payload()}


def stored(event_id: str, created: bool) -> Verdict:
    """The answer once the row committed (event ids are hex: nothing to escape)."""
    if created:
        return Verdict(202, f'{{"event_id":"{event_id}","status":"accepted"}}\n', "accepted")
    return Verdict(200, f'{{"event_id":"{event_id}","status":"duplicate"}}\n', "duplicate")


@lru_cache(maxsize=8)
def _guard_tag(value: str) -> str:
    return safe_tag(value)
