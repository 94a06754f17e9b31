"""Webhook bodies → one tolerant ``TicketEvent``. Pure: no I/O.

Real bodies vary: ids as strings or ints, flat dotted keys (``"ticket.id"``), nested ``ticket``
objects, Freshdesk's ``freshdesk_webhook`` wrapper, unfilled ``{{…}}`` placeholders, display-case
status words, Freshdesk's non-JSON ``triggered_event``, note events without the note, and the
same field-name variants for both vendors (``ticket_title``/``ticket_subject``, ``ticket_description``,
``ticket_status``, camelCase ``ticketId``). Anything missing is left ``None``; the job always fetches
the ticket through the API (authoritative text and tags), so a body without text still gets classified. Only a missing or non-numeric ticket id is fatal (``PayloadError``).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from plugin.exceptions import PayloadError

_ID_IN_BROKEN_JSON = re.compile(r'"(?:ticket_id|ticketId|ticket\.id|id)"\s*:\s*"?\s*(\d+)')
# Field-name variants both parsers accept: snake_case, camelCase (rendered by other tools), dotted
_ID_KEYS = ("ticket_id", "ticketId", "ticket.id", "id")
_UPDATED_KEYS = ("updated_at", "ticket_updated_at", "updatedAt", "ticketUpdatedAt", "ticket.updated_at")
_ZD_EVENT_PREFIX = "zen:event-type:"


@dataclass(frozen=True)
class TicketEvent:
    vendor: str
    ticket_id: str
    event_type: str  # "ticket.created", "trigger", "note_added", ...
    subject: str | None = None
    text: str | None = None
    tags: list[str] | None = None
    status: str | None = None
    updated_at: str | None = None
    event_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def audit_payload(self) -> dict[str, Any]:
        """What goes into the store: no ticket text, no requester data."""
        return {"event_type": self.event_type, "status": self.status, "tags": self.tags,
                "has_text": bool(self.text), "updated_at": self.updated_at}


def decode_body(raw: bytes) -> dict[str, Any]:
    """JSON object from raw bytes; a body broken by unescaped placeholder values keeps its id."""
    try:
        data = json.loads(raw.decode("utf-8-sig") or "{}")
    except RecursionError:  # "[[[[…" nested deeper than the parser's stack: hostile, not a webhook
        raise PayloadError("body is nested too deeply") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        match = _ID_IN_BROKEN_JSON.search(raw.decode("utf-8", "replace"))
        if not match:
            raise PayloadError("body is not valid JSON and carries no ticket id") from None
        return {"ticket_id": match.group(1), "_broken_json": True}
    if not isinstance(data, dict):
        raise PayloadError("body must be a JSON object")
    return data


def clean(value: Any) -> str | None:
    """A rendered value as text; empty or unfilled placeholders become None."""
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    if not text or text.startswith("{{"):  # empty, or a placeholder the helpdesk did not fill
        return None
    return text


def lookup(data: dict[str, Any], *keys: str) -> Any:
    """First present value among keys; ``"a.b"`` also matches flat dotted keys and nested dicts."""
    for key in keys:
        if key in data and clean(data[key]) is not None:
            return data[key]
        if "." not in key:  # the nested walk below would only look at data[key] again
            continue
        node: Any = data
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None and clean(node) is not None:
            return node
    return None


def ticket_id_of(value: Any) -> str:
    text = clean(value)
    if text is None:
        raise PayloadError("ticket id missing")
    text = text.split(":")[-1].strip()  # "zen:ticket:35436"
    if not text.isdigit():
        raise PayloadError("ticket id is not a number")
    return str(int(text))


def split_tags(value: Any) -> list[str] | None:
    if isinstance(value, list):
        return [str(t).strip().lower() for t in value if str(t).strip()]
    text = clean(value)
    if text is None:
        return None
    return [t.lower() for t in re.split(r"[\s,]+", text) if t]


def _lower(value: Any) -> str | None:
    text = clean(value)
    return text.lower() if text else None


def parse_zendesk(data: dict[str, Any]) -> TicketEvent:
    """Event-subscription envelope (``zen:event-type:…``) or an admin-written trigger body."""
    kind = str(data.get("type") or "")
    if kind.startswith(_ZD_EVENT_PREFIX):
        event_type = kind[len(_ZD_EVENT_PREFIX):]
        if not event_type.startswith("ticket."):
            raise PayloadError(f"unsupported event type {event_type!r}")
        detail = data.get("detail") if isinstance(data.get("detail"), dict) else {}
        tid = ticket_id_of(lookup(detail, "id") or data.get("subject"))
        comment = lookup(data.get("event") or {}, "current.body", "comment.body", "body")
        return TicketEvent("zendesk", tid, event_type, subject=clean(detail.get("subject")),
                           text=clean(comment) or clean(detail.get("description")),
                           tags=split_tags(detail.get("tags")), status=_lower(detail.get("status")),
                           updated_at=clean(detail.get("updated_at")), event_id=clean(data.get("id")))
    body = data.get("ticket") if isinstance(data.get("ticket"), dict) and lookup(data, *_ID_KEYS[:2]) is None \
        else data
    tid = ticket_id_of(lookup(body, *_ID_KEYS))
    return TicketEvent("zendesk", tid, clean(data.get("event")) or "trigger",
                       subject=clean(lookup(body, "subject", "ticket_title", "ticketTitle", "ticket.title", "title",
                                            "ticket_subject", "ticketSubject", "ticket.subject")),
                       text=clean(lookup(body, "description", "ticket_description", "ticketDescription",
                                         "ticket.description", "comment", "latest_comment")),
                       tags=split_tags(lookup(body, "tags", "ticket_tags", "ticketTags", "ticket.tags")),
                       status=_lower(lookup(body, "status", "ticket_status", "ticketStatus", "ticket.status")),
                       updated_at=clean(lookup(body, *_UPDATED_KEYS)))


def parse_triggered_event(value: Any) -> str:
    """``{ticket_action:created}`` → ``created``; ``{status:{from:4,to:6}}`` → ``status_changed``."""
    text = clean(value)
    if text is None:
        return "unknown"
    action = re.search(r"ticket_action\s*:\s*([a-z_]+)", text, re.I)
    if action:
        return action.group(1).lower()
    if re.search(r"note_type", text, re.I):
        return "note_added"
    key = re.match(r"\{\s*\"?([a-z_]+)\"?\s*:", text, re.I)
    return f"{key.group(1).lower()}_changed" if key else "unknown"


def parse_freshdesk(data: dict[str, Any]) -> TicketEvent:
    body = data.get("freshdesk_webhook") if isinstance(data.get("freshdesk_webhook"), dict) else data
    tid = ticket_id_of(lookup(body, *_ID_KEYS))
    event_type = parse_triggered_event(body.get("triggered_event"))
    text = clean(lookup(body, "ticket_description", "ticketDescription", "description", "ticket.description"))
    if event_type == "note_added":
        text = clean(lookup(body, "note_body", "ticket_latest_public_comment")) or None
    return TicketEvent("freshdesk", tid, event_type,
                       subject=clean(lookup(body, "ticket_subject", "ticketSubject", "ticket_title", "subject",
                                            "ticket.subject")),
                       text=text, tags=split_tags(lookup(body, "ticket_tags", "ticketTags", "tags", "ticket.tags")),
                       status=_lower(lookup(body, "ticket_status", "ticketStatus", "status", "ticket.status")),
                       updated_at=clean(lookup(body, *_UPDATED_KEYS)),
                       # the category dropdown, if the admin put it in the webhook body (corrections)
                       extra={"category": clean(lookup(body, "ticket_category", "category", "ticket.category"))})


DEDUP_WINDOW_S = 24 * 3600  # a content-hash key holds this long (Freshdesk retries end after ~95 min)
_TIME_OF_DAY = re.compile(r"\d{1,2}:\d{2}:\d{2}")  # a timestamp with seconds, not just a date
_EPOCH = re.compile(r"^\d{9,}(?:\.\d+)?$")


def precise_timestamp(value: str | None) -> bool:
    """True when ``value`` names a moment to the second (ISO 8601, epoch), not a calendar date:
    "February 3, 2025" is shared by every update of that day, so it cannot tell two apart."""
    return bool(value) and bool(_TIME_OF_DAY.search(value) or _EPOCH.match(value.strip()))


def content_digest(data: dict[str, Any], raw: bytes) -> str:
    """Hash of the authenticated content: the decoded fields in a canonical order (the same
    delivery re-encoded, e.g. JSON spacing or form fields, hashes alike), or the raw bytes when
    the body was not readable JSON."""
    if data.get("_broken_json"):
        return hashlib.sha256(raw).hexdigest()[:32]
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def dedup_key(event: TicketEvent, data: dict[str, Any], raw: bytes, *, now: float) -> tuple[str, str | None]:
    """The key that makes a repeated delivery a duplicate, and the key of the previous window.

    Built only from authenticated content (the signed or secret-guarded body, never an unsigned
    header), and never coarser than one update: the event id, else ticket + an ``updated_at``
    precise to the second, else a hash of the content, valid for ``DEDUP_WINDOW_S`` (the second
    value: the same content in the window before this one, which the caller must also look up).
    """
    if event.event_id:
        return f"evt:{event.event_id}", None
    if precise_timestamp(event.updated_at):
        return f"tkt:{event.ticket_id}:{event.updated_at}:{event.event_type}", None
    digest = content_digest(data, raw)
    window = int(now // DEDUP_WINDOW_S)
    return f"body:{event.ticket_id}:{digest}:{window}", f"body:{event.ticket_id}:{digest}:{window - 1}"
