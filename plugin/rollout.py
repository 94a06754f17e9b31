"""Shadow mode and the A/B split: which tickets we write to, and what agents did with each ticket.

An admin adopts triage in steps (docs/rollout.md): first ``rollout_mode = "shadow"`` (every
ticket classified and recorded, nothing written, agents route by hand), then ``live`` for a share
of tickets (``ab_live_share``, by a stable hash of the ticket id so a ticket never changes group),
then all. Tickets not written are the ``manual`` group, written ones the ``live`` group.

Two tables beside the event store, on its database (like the corrections table, ``plugin.db``):
``rollout_tickets`` (one row per classified event: its group, the path that answered, and the
redacted text, which the dashboard and the taxonomy audit show: never the raw text) and
``ticket_activity`` (what agents did afterwards: each category they set, and solved/closed, with
the time), the audit data for agreement and for comparing the groups. Portable SQL only.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from .config import Settings
from .db import Database, migrate, open_database
from .helpdesk.tags import safe_tag
from .result import Result

LIVE = "live"  # written back to the helpdesk
MANUAL = "manual"  # shadow mode, or the A/B group left to agents: classified, nothing written
DONE_STATUSES = ("solved", "resolved", "closed")  # a status activity with one of these ends the handling time

MIGRATIONS = ["""
CREATE TABLE IF NOT EXISTS rollout_tickets (
    event_id TEXT PRIMARY KEY,
    vendor TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    grp TEXT NOT NULL,
    path TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL DEFAULT '',
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS rollout_tickets_time ON rollout_tickets (created_at);
CREATE TABLE IF NOT EXISTS ticket_activity (
    id TEXT PRIMARY KEY,
    vendor TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    created_at DOUBLE PRECISION NOT NULL,
    UNIQUE (vendor, ticket_id, kind, value)
);
CREATE INDEX IF NOT EXISTS ticket_activity_ticket ON ticket_activity (vendor, ticket_id)
"""]


@dataclass(frozen=True)
class RolloutTicket:
    """How one classified event was handled: group, answering path, redacted text."""

    event_id: str
    vendor: str
    ticket_id: str
    grp: str
    path: str
    text: str
    created_at: float


@dataclass(frozen=True)
class Activity:
    """Something an agent did on a ticket we classified: ``kind`` is ``label`` or ``status``."""

    vendor: str
    ticket_id: str
    kind: str
    value: str
    source: str
    created_at: float


def group_for(settings: Settings, vendor: str, ticket_id: str) -> str:
    """``live`` or ``manual`` for a ticket: shadow mode keeps every ticket manual; in live mode a
    stable hash of vendor and ticket id puts ``ab_live_share`` of tickets live (the same ticket
    always lands in the same group, across processes and restarts)."""
    if settings.rollout_mode == "shadow":
        return MANUAL
    if settings.ab_live_share >= 1.0:
        return LIVE
    digest = hashlib.sha256(f"{vendor}:{ticket_id}".encode()).digest()
    return LIVE if int.from_bytes(digest[:8], "big") / 2.0 ** 64 < settings.ab_live_share else MANUAL


def shadow_tag(prefix: str, label: str) -> str:
    """The one internal tag a manual ticket may get (``shadow_tag = true``): never a category tag."""
    return safe_tag(f"{prefix}shadow_{label}")


def answer_path(result: Result) -> str:
    """Which path answered: ``llm``, ``fallback``, or ``cascade/llm`` / ``cascade/fallback``."""
    source = str(result.classifier)
    return f"cascade/{source}" if result.reason.startswith("cascade") else source


class RolloutStore:
    """The two rollout tables, on the event store's database (``settings.database``)."""

    def __init__(self, target: Database | Path | str, *, clock=time.time) -> None:
        self.db = open_database(target)
        self._clock = clock
        migrate(self.db, "rollout", MIGRATIONS)

    def close(self) -> None:
        self.db.close()

    def record_ticket(self, event_id: str, *, vendor: str, ticket_id: str, grp: str, path: str,
                      text: str) -> None:
        """Remember how an event is handled (once: a retried job keeps the first group)."""
        self.db.execute(
            "INSERT INTO rollout_tickets (event_id, vendor, ticket_id, grp, path, text, created_at)"
            " VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING", (event_id, vendor, str(ticket_id), grp, path, text, self._clock()))

    def ticket(self, event_id: str) -> RolloutTicket | None:
        row = self.db.execute("SELECT * FROM rollout_tickets WHERE event_id=?", (event_id,)).fetchone()
        return RolloutTicket(**dict(row)) if row else None

    def tickets(self, *, since: float | None = None) -> dict[str, RolloutTicket]:
        """Rows by event id, recorded at or after ``since``."""
        sql, args = "SELECT * FROM rollout_tickets", []
        if since is not None:
            sql += " WHERE created_at>=?"
            args.append(since)
        return {r["event_id"]: RolloutTicket(**dict(r)) for r in self.db.execute(sql, args)}

    def note_activity(self, *, vendor: str, ticket_id: str, kind: str, value: str, source: str = "") -> bool:
        """Record an agent's action once (webhook retries repeat it); True when it was new."""
        cur = self.db.execute(
            "INSERT INTO ticket_activity (id, vendor, ticket_id, kind, value, source, created_at)"
            " VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING", (uuid.uuid4().hex, vendor, str(ticket_id), kind, value, source, self._clock()))
        return cur.rowcount == 1

    def activity(self, *, since: float | None = None) -> list[Activity]:
        """Agents' actions, oldest first."""
        sql, args = "SELECT vendor, ticket_id, kind, value, source, created_at FROM ticket_activity", []
        if since is not None:
            sql += " WHERE created_at>=?"
            args.append(since)
        return [Activity(**dict(r)) for r in self.db.execute(sql + " ORDER BY created_at", args)]
