"""Agents' corrections: when an agent changes the category we wrote, remember it as a label.

A ticket-updated webhook (or the job's re-read of a ticket that already carries our guard tag)
shows the ticket's current tags and category field. If they name a category other than the one
we recorded for that ticket in the event store, that is a correction: (ticket, vendor, our label,
the agent's label, the redacted text, time). Corrections are the cheapest labelled data there is,
and they are exactly the tickets the classifier gets wrong; ``triage corrections export`` turns
them into a training file and ``triage retrain`` uses them.

Corrections live in their own table in the same database as the event store (the SQLite file, or
PostgreSQL with ``database_url``).

The same hook feeds the rollout audit (``plugin.rollout``): on a ticket left to agents (shadow
mode, the manual A/B group) every category an agent sets is recorded, agreeing with ours or not,
and on any ticket we classified a solved/closed status is recorded with its time.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .config import Settings
from .datasets import Item
from .db import Database, migrate, open_database
from .helpdesk.tags import category_tag
from .normalize import normalize_bounded
from .redact import redact
from .rollout import DONE_STATUSES, RolloutStore
from .store import EventState, EventStore

log = logging.getLogger(__name__)

MIGRATIONS = ["""
CREATE TABLE IF NOT EXISTS corrections (
    id TEXT PRIMARY KEY,
    vendor TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    event_id TEXT,
    our_label TEXT NOT NULL,
    our_score DOUBLE PRECISION,
    our_decision TEXT,
    model_version TEXT,
    agent_label TEXT NOT NULL,
    source TEXT NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    created_at DOUBLE PRECISION NOT NULL,
    UNIQUE (vendor, ticket_id, our_label, agent_label)
);
CREATE INDEX IF NOT EXISTS corrections_time ON corrections (created_at)
"""]
_WRITTEN = (EventState.WRITTEN_BACK, EventState.NEEDS_REVIEW)
_CLASSIFIED = (*_WRITTEN, EventState.SHADOW)


@dataclass(frozen=True)
class Correction:
    id: str
    vendor: str
    ticket_id: str
    event_id: str | None
    our_label: str
    our_score: float | None
    our_decision: str | None
    model_version: str | None
    agent_label: str
    source: str  # "field" (category field) or "tag"
    text: str  # redacted
    created_at: float


class CorrectionStore:
    """The ``corrections`` table, on the event store's database (``plugin.db``)."""

    def __init__(self, target: Database | Path | str, *, clock=time.time) -> None:
        self.db = open_database(target)
        self.path = self.db.path
        self._clock = clock
        migrate(self.db, "corrections", MIGRATIONS)

    def close(self) -> None:
        self.db.close()

    def add(self, *, vendor: str, ticket_id: str, our_label: str, agent_label: str, source: str,
            text: str = "", event_id: str | None = None, our_score: float | None = None,
            our_decision: str | None = None, model_version: str | None = None) -> Correction | None:
        """Record a correction; None if this exact correction was already recorded (webhook retries)."""
        c = Correction(uuid.uuid4().hex, vendor, str(ticket_id), event_id, our_label, our_score, our_decision,
                       model_version, agent_label, source, text, self._clock())
        cur = self.db.execute(
            "INSERT INTO corrections (id, vendor, ticket_id, event_id, our_label, our_score,"
            " our_decision, model_version, agent_label, source, text, created_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
            (c.id, c.vendor, c.ticket_id, c.event_id, c.our_label, c.our_score, c.our_decision,
             c.model_version, c.agent_label, c.source, c.text, c.created_at))
        return c if cur.rowcount == 1 else None

    def fill_text(self, vendor: str, ticket_id: str, text: str) -> int:
        """Add the redacted text to corrections of a ticket recorded without it."""
        return self.db.execute("UPDATE corrections SET text=? WHERE vendor=? AND ticket_id=? AND text=''",
                                    (text, vendor, str(ticket_id))).rowcount

    def list(self, *, since: float | None = None) -> list[Correction]:
        sql, args = "SELECT * FROM corrections", []
        if since is not None:
            sql += " WHERE created_at>=?"
            args.append(since)
        rows = self.db.execute(sql + " ORDER BY created_at", args)
        return [Correction(**dict(r)) for r in rows]


def agent_label(tags: Iterable[str] | None, category: str | None, labels: list[str], *, prefix: str,
                our_label: str | None) -> tuple[str, str] | None:
    """The category the agent chose, and where it was seen (``field`` or ``tag``), if it differs.

    The category field wins when set. Otherwise a category tag (``<prefix><label>``) other than
    ours means the agent chose that label (they usually also remove ours, but need not).
    Suggest and needs-review tags are ours, not an agent's choice, so they never count.
    ``our_label=None`` (we wrote nothing: shadow mode): any category the agent set.
    """
    names = set(labels)
    if category:
        value = category.strip()
        for name in labels:  # Freshdesk dropdowns hold display values; match leniently
            if value == name or value.lower().replace(" ", "_") == name:
                return (name, "field") if name != our_label else None
    by_tag = {category_tag(prefix, name): name for name in names}
    chosen = [by_tag[t] for t in (tags or []) if t in by_tag and by_tag[t] != our_label]
    return (chosen[0], "tag") if chosen else None


def note_agent_edit(settings: Settings, events: EventStore, labels: list[str] | None, *, vendor: str, ticket_id: str,
                    tags: list[str] | None, category: str | None = None, text: str | None = None,
                    status: str | None = None, corrections: CorrectionStore | None = None,
                    rollout: RolloutStore | None = None) -> Correction | None:
    """Called for a ticket update on a ticket we already classified; records a correction if any,
    and the agent's label and a solved/closed status as rollout activity.

    Never raises: a failure here must not fail the webhook or the job (it is logged).

    Args:
        settings: for the tag prefix and the database.
        events: the event store, holding what we wrote for the ticket.
        labels: the taxonomy's category names (None: the configured taxonomy's).
        vendor / ticket_id: the ticket.
        tags: the ticket's current tags.
        category: the ticket's current category field value, if the vendor sent it.
        text: the ticket's text, if at hand; stored redacted (never raw).
        status: the ticket's status, if known (solved/closed ends the handling time).
    """
    try:
        ours = None
        for ev in events.events(vendor=vendor, ticket_id=str(ticket_id)):
            if ev.label is not None and ev.state in _CLASSIFIED:
                ours = ev  # the latest outcome we wrote (or, in shadow, recorded)
        if ours is None:
            return None
        labels = labels if labels is not None else taxonomy_labels(settings)
        shadow = ours.state == EventState.SHADOW
        found = agent_label(tags, category, labels, prefix=settings.tag_prefix,
                            our_label=None if shadow else ours.label)
        activity = rollout or RolloutStore(settings.database)
        if status and status.lower() in DONE_STATUSES:
            activity.note_activity(vendor=vendor, ticket_id=str(ticket_id), kind="status", value=status.lower())
        if found is not None:
            activity.note_activity(vendor=vendor, ticket_id=str(ticket_id), kind="label", value=found[0],
                                   source=found[1])
        if found is None or found[0] == ours.label:
            return None  # nothing chosen, or (shadow) the agent agreed with us: not a correction
        store = corrections or CorrectionStore(settings.database)
        redacted = redact(normalize_bounded(text)[0]).text if text else ""
        c = store.add(vendor=vendor, ticket_id=str(ticket_id), our_label=ours.label, agent_label=found[0],
                      source=found[1], text=redacted, event_id=ours.id, our_score=ours.score,
                      our_decision=ours.decision, model_version=ours.model_version)
        if c is None and redacted:
            store.fill_text(vendor, str(ticket_id), redacted)
        if c is not None:
            log.info("correction on %s ticket %s: %s -> %s", vendor, ticket_id, ours.label, found[0])
        return c
    except Exception:  # noqa: BLE001 - documented: corrections are best effort
        log.exception("could not record a correction for %s ticket %s", vendor, ticket_id)
        return None


def corrections_as_items(corrections: list[Correction]) -> list[Item]:
    """Labelled items (the agent's label) from corrections that carry text."""
    return [Item(f"correction:{c.vendor}:{c.ticket_id}", c.text, c.agent_label) for c in corrections if c.text]


def taxonomy_labels(settings: Settings) -> list[str]:
    """Category names of the configured taxonomy, cached per taxonomy setting (webhook hot path)."""
    from .taxonomy import taxonomy_names

    return list(taxonomy_names(str(settings.taxonomy)))
