"""The audit/event store: one row per accepted webhook event, the source of truth for its lifecycle.

A webhook is answered 2xx only after its row is committed here, so the row (not the queue) decides
what still has to happen. This row is the request's only durable write: the committer hands the
new ids to a dispatcher thread (``webhooks.dispatcher``), which puts them on the queue; a recovery
sweep re-enqueues every unfinished row at start-up, and the job claims a row before working on it,
so a duplicate queue entry is harmless.

Backends (``plugin.db``): a SQLite file (embedded default) or PostgreSQL (``database_url``, several
hosts); the SQL below is written once for both. On PostgreSQL writers run concurrently, so
``claim`` locks the rows of the event's ticket (``FOR UPDATE``) before deciding: two workers on two
hosts never hold the same event, nor two events of one ticket. A commit returns once PostgreSQL
flushed its WAL (its defaults), which is the same promise as SQLite's ``FULL``.

Durability on SQLite: WAL mode with ``synchronous=FULL`` by default. WAL + NORMAL survives a
killed process but may lose the last commits on power loss or an OS crash; we promise the sender
that an acknowledged event is never lost, so every commit is fsynced (FULL). The receiver groups
concurrent requests into one transaction (``webhooks.committer``), so that fsync is shared. Where
fsync is very slow and a UPS/replicated disk covers power loss, ``store_synchronous = "NORMAL"``
is the documented trade. WAL keeps readers (reports, ``/metrics``) from blocking the writer.

Public API (other modules read it, keep it stable):
    ``EventState``, ``Event``, ``EventStore.open(path)``, ``add_event``, ``get``, ``claim``,
    ``record_classification``, ``finish``, ``schedule_retry``, ``release``, ``events``,
    ``counts_by_state``, ``find`` (an id by dedup key), ``take_unfinished``, ``take_stalled``,
    ``release_all``.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Iterator

from .db import Database, Executor, migrate, open_database

DEFAULT_LEASE_S = 120.0  # a claimed event whose worker died is reclaimable after this many seconds


class _EventIds:
    """Event ids: 32 hex digits, a random 64-bit prefix per process + a counter.

    Unique like ``uuid4().hex`` (a collision needs two processes drawing the same prefix), but
    without an ``os.urandom`` system call per event, which is measurable on the accept path. Ids
    are not secrets (nothing is fetched by event id). Reseeded in a forked child.
    """

    def __init__(self) -> None:
        self.reseed()
        os.register_at_fork(after_in_child=self.reseed)

    def reseed(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._seq = itertools.count(int.from_bytes(os.urandom(4), "big"))

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._seq) & 0xFFFFFFFFFFFFFFFF:016x}"  # next() is atomic


new_event_id = _EventIds()


_INSERT_EVENTS = ("INSERT INTO events (id, vendor, ticket_id, dedup_key, event_type, state,"
                  " payload, created_at, updated_at) VALUES ")
_ROW_PLACEHOLDERS = "(?,?,?,?,?,?,?,?,?)"
_ON_CONFLICT = " ON CONFLICT DO NOTHING"  # (vendor, dedup_key) seen before: keep the first row
_ROWS_PER_INSERT = 256  # 9 parameters a row, far below SQLite's 32766 and PostgreSQL's 65535 bounds


class EventState(StrEnum):
    """Lifecycle of one event: ``received → processing → written_back | needs_review | shadow | skipped | dead``.

    ``retry`` is ``processing`` that failed retryably and waits for ``next_attempt_at``.
    """

    RECEIVED = "received"
    PROCESSING = "processing"
    RETRY = "retry"
    WRITTEN_BACK = "written_back"  # category tag (auto-apply / suggest) written
    NEEDS_REVIEW = "needs_review"  # needs-review tag written
    SHADOW = "shadow"  # classified and recorded, nothing written (shadow mode / manual A/B group)
    SKIPPED = "skipped"  # nothing to do (our own update, already classified, ticket gone)
    DEAD = "dead"  # gave up after max attempts or a permanent error; ``last_error`` says why

    @property
    def finished(self) -> bool:
        return self in _FINISHED


_FINISHED = {EventState.WRITTEN_BACK, EventState.NEEDS_REVIEW, EventState.SHADOW, EventState.SKIPPED,
             EventState.DEAD}
UNFINISHED = (EventState.RECEIVED, EventState.PROCESSING, EventState.RETRY)

# Portable DDL (``plugin.db.migrate``): DOUBLE PRECISION is REAL on SQLite, float8 on PostgreSQL.
MIGRATIONS = ["""
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    vendor TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    event_type TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}',
    label TEXT, score DOUBLE PRECISION, decision TEXT, classifier TEXT, model_version TEXT,
    prompt_tokens INTEGER NOT NULL DEFAULT 0, completion_tokens INTEGER NOT NULL DEFAULT 0,
    latency_ms DOUBLE PRECISION, tags_written TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    lease_until DOUBLE PRECISION, next_attempt_at DOUBLE PRECISION,
    created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL, finished_at DOUBLE PRECISION,
    UNIQUE (vendor, dedup_key)
);
CREATE INDEX IF NOT EXISTS events_state ON events (state);
CREATE INDEX IF NOT EXISTS events_ticket ON events (vendor, ticket_id);
CREATE INDEX IF NOT EXISTS events_created ON events (created_at)
""",
# 2: when a sweep last put the event on the queue (NULL: only its receiver's dispatcher did, at
# created_at), so that the sweeps of several processes re-enqueue a stalled event once, not once each.
"ALTER TABLE events ADD COLUMN enqueued_at DOUBLE PRECISION",
]


@dataclass(frozen=True)
class Event:
    """One stored event. ``payload`` is the parsed, tolerant view of the webhook (no secrets)."""

    id: str
    vendor: str
    ticket_id: str
    dedup_key: str
    event_type: str
    state: EventState
    payload: dict[str, Any]
    label: str | None
    score: float | None
    decision: str | None
    classifier: str | None
    model_version: str | None
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float | None
    tags_written: list[str] | None
    attempts: int
    last_error: str | None
    lease_until: float | None
    next_attempt_at: float | None
    created_at: float
    updated_at: float
    finished_at: float | None
    enqueued_at: float | None = None  # last put on the queue by a sweep

    @classmethod
    def from_row(cls, row: Any) -> "Event":
        data = dict(row)
        data["state"] = EventState(data["state"])
        data["payload"] = json.loads(data["payload"] or "{}")
        data["tags_written"] = json.loads(data["tags_written"]) if data["tags_written"] else None
        return cls(**data)


class EventStore:
    """Thread-safe access to the events table on SQLite or PostgreSQL (``plugin.db``)."""

    def __init__(self, target: Database | Path | str, *, clock=time.time, synchronous: str = "FULL") -> None:
        """``target``: a SQLite path, a ``postgresql://`` URL or an open ``Database``;
        ``synchronous`` (SQLite only): ``FULL`` or ``NORMAL``."""
        self.db = open_database(target, synchronous=synchronous)
        self.synchronous = synchronous
        self.path = self.db.path  # the SQLite file; None on PostgreSQL
        self._clock = clock
        migrate(self.db, "events", MIGRATIONS)

    @classmethod
    def open(cls, target: Database | Path | str) -> "EventStore":
        return cls(target)

    def writer(self) -> Executor:
        """What ONE serialised writer used from changing threads (the group committer's leaders)
        runs on: on SQLite a connection of its own (its page cache stays warm from batch to
        batch); on PostgreSQL the pool. Never use it concurrently."""
        return self.db.writer()

    def _tx(self):
        """A write transaction (SQLite ``BEGIN IMMEDIATE``; PostgreSQL ``BEGIN``)."""
        return self.db.transaction()

    def close(self) -> None:
        self.db.close()

    # --- writes -----------------------------------------------------------------------------

    def add_event(self, vendor: str, ticket_id: str, dedup_key: str, *, event_type: str = "",
                  payload: dict[str, Any] | None = None) -> tuple[str, bool]:
        """Store a new event durably (committed and flushed to disk before returning).

        Returns:
            ``(event_id, created)``; ``created`` is False when ``(vendor, dedup_key)`` was seen
            before, and then the id is the earlier event's.
        """
        item = {"vendor": vendor, "ticket_id": ticket_id, "dedup_key": dedup_key, "event_type": event_type,
                "payload": payload}
        with self._tx() as db:
            return self._insert(db, item, self._clock())

    def add_events(self, items: list[dict[str, Any]], *, conn: Executor | None = None) -> list[tuple[str, bool]]:
        """``add_event`` for many events in one transaction (one flush): the group-commit path.

        Each item has the keyword arguments of ``add_event`` (``vendor``, ``ticket_id``,
        ``dedup_key``, optional ``event_type`` and ``payload``). ``conn``: a ``writer()``
        instead of this thread's own connection.

        Up to ``_ROWS_PER_INSERT`` events go in ONE multi-row ``INSERT … ON CONFLICT DO NOTHING``
        statement, which is its own transaction: on SQLite one ``sqlite3_step`` (one GIL release in
        the request thread instead of BEGIN + one per row + COMMIT), on PostgreSQL one round trip.
        When it inserted fewer rows than given, some were duplicates: the committed rows tell which
        (a row holding our fresh id is ours).
        """
        now = self._clock()
        if len(items) > _ROWS_PER_INSERT:
            with self._tx() as tx:
                return [self._insert(tx, item, now) for item in items]
        db = conn or self.db
        rows = [(new_event_id(), item["vendor"], str(item["ticket_id"]), item["dedup_key"],
                 item.get("event_type", ""), EventState.RECEIVED.value, json.dumps(item.get("payload") or {}), now, now)
                for item in items]
        cur = db.execute(_INSERT_EVENTS + ",".join([_ROW_PLACEHOLDERS] * len(rows)) + _ON_CONFLICT,
                         [value for row in rows for value in row])
        if cur.rowcount == len(rows):
            return [(row[0], True) for row in rows]
        out: list[tuple[str, bool]] = []
        for row in rows:  # rows are never deleted, so every key now has exactly one stored id
            stored = db.execute("SELECT id FROM events WHERE vendor=? AND dedup_key=?", (row[1], row[3])).fetchone()
            out.append((stored["id"], stored["id"] == row[0]))
        return out

    @staticmethod
    def _insert(db: Executor, item: dict[str, Any], now: float) -> tuple[str, bool]:
        event_id = new_event_id()
        cur = db.execute(
            _INSERT_EVENTS + _ROW_PLACEHOLDERS + _ON_CONFLICT,
            (event_id, item["vendor"], str(item["ticket_id"]), item["dedup_key"], item.get("event_type", ""),
             EventState.RECEIVED.value, json.dumps(item.get("payload") or {}), now, now))
        if cur.rowcount == 1:
            return event_id, True
        row = db.execute("SELECT id FROM events WHERE vendor=? AND dedup_key=?",
                         (item["vendor"], item["dedup_key"])).fetchone()
        return row["id"], False

    def claim(self, event_id: str, *, lease_s: float = DEFAULT_LEASE_S) -> Event | None:
        """Atomically move an event to ``processing`` and count the attempt.

        Returns None when the event is finished, parked in ``retry`` until a later
        ``next_attempt_at`` (a duplicate queue entry must not retry before ``Retry-After``), held by
        a live worker (unexpired lease), or when another event of the same ticket is being processed
        (the caller retries shortly), so a duplicate queue entry does nothing and one ticket never
        has two writers.

        On PostgreSQL the rows of the event's ticket are locked first (``FOR UPDATE``, in id order
        so claimers never deadlock): a concurrent claim of the same event or ticket waits for this
        one's commit, then sees its lease and refuses. SQLite's write lock does the same.
        """
        now = self._clock()
        with self._tx() as db:
            if self.db.dialect.row_locks:
                db.execute("SELECT o.id FROM events o JOIN events e ON o.vendor=e.vendor AND o.ticket_id=e.ticket_id"
                           " WHERE e.id=? ORDER BY o.id FOR UPDATE OF o", (event_id,))
            rows = db.execute(
                "UPDATE events SET state=?, lease_until=?, attempts=attempts+1, updated_at=?"
                " WHERE id=? AND (state=? OR (state=? AND (next_attempt_at IS NULL OR next_attempt_at<=?))"
                "  OR (state=? AND (lease_until IS NULL OR lease_until<?)))"
                " AND NOT EXISTS (SELECT 1 FROM events o WHERE o.vendor=events.vendor"
                "  AND o.ticket_id=events.ticket_id AND o.id<>events.id AND o.state=? AND o.lease_until>=?)"
                " RETURNING *",
                (EventState.PROCESSING.value, now + lease_s, now, event_id, EventState.RECEIVED.value,
                 EventState.RETRY.value, now, EventState.PROCESSING.value, now, EventState.PROCESSING.value,
                 now)).fetchall()  # all of it: SQLite commits only after the statement completed
            return Event.from_row(rows[0]) if rows else None

    def record_classification(self, event_id: str, *, label: str, score: float, decision: str,
                              classifier: str, model_version: str, prompt_tokens: int,
                              completion_tokens: int, latency_ms: float) -> None:
        """Store the outcome before writing back, so a retry reuses it instead of re-classifying."""
        self.db.execute(
            "UPDATE events SET label=?, score=?, decision=?, classifier=?, model_version=?,"
            " prompt_tokens=?, completion_tokens=?, latency_ms=?, updated_at=? WHERE id=?",
            (label, score, decision, classifier, model_version, prompt_tokens,
             completion_tokens, latency_ms, self._clock(), event_id))

    def finish(self, event_id: str, state: EventState, *, tags_written: list[str] | None = None,
               error: str | None = None) -> None:
        """Move an event to a terminal state."""
        if not state.finished:
            raise ValueError(f"{state} is not a terminal state")
        now = self._clock()
        self.db.execute(
            "UPDATE events SET state=?, tags_written=COALESCE(?, tags_written),"
            " last_error=COALESCE(?, last_error), lease_until=NULL, next_attempt_at=NULL,"
            " updated_at=?, finished_at=? WHERE id=?",
            (state.value, json.dumps(tags_written) if tags_written is not None else None, error,
             now, now, event_id))

    def schedule_retry(self, event_id: str, *, delay_s: float, error: str) -> None:
        """Park an event in ``retry`` until ``now + delay_s``."""
        now = self._clock()
        self.db.execute("UPDATE events SET state=?, last_error=?, next_attempt_at=?, lease_until=NULL,"
                        " updated_at=? WHERE id=?",
                        (EventState.RETRY.value, error, now + delay_s, now, event_id))

    def release_all(self) -> int:
        """Expire every lease (start-up of the only consumer: nobody else can be processing)."""
        return self.db.execute("UPDATE events SET lease_until=NULL WHERE state=?",
                               (EventState.PROCESSING.value,)).rowcount

    # --- reads ------------------------------------------------------------------------------

    def get(self, event_id: str) -> Event | None:
        row = self.db.execute("SELECT * FROM events WHERE id=?", (event_id,)).fetchone()
        return Event.from_row(row) if row else None

    def find(self, vendor: str, dedup_key: str) -> str | None:
        """The id of the event stored under ``(vendor, dedup_key)``, if any (the unique index)."""
        row = self.db.execute("SELECT id FROM events WHERE vendor=? AND dedup_key=?",
                              (vendor, dedup_key)).fetchone()
        return row["id"] if row else None

    def take_unfinished(self, *, grace_s: float = 0.0) -> list[Event]:
        """Every event a start-up recovery sweep must look at (received, retry, or processing)
        that no sweep queued in the last ``grace_s``, marked as queued now, oldest first. An event
        processing under a live lease may belong to a worker that just died (another host's, or
        this host's before a restart); the sweep re-checks it when the lease expires."""
        now = self._clock()
        rows = self.db.execute("UPDATE events SET enqueued_at=? WHERE state IN (?, ?, ?)"
                               " AND (enqueued_at IS NULL OR enqueued_at<=?) RETURNING *",
                               (now, *(state.value for state in UNFINISHED), now - grace_s)).fetchall()
        return sorted((Event.from_row(r) for r in rows), key=lambda e: e.created_at)

    def take_stalled(self, *, grace_s: float = 60.0) -> list[Event]:
        """Unfinished events nobody seems to be handling, marked as enqueued now, oldest first:
        received or due for retry more than ``grace_s`` ago, or processing with an expired lease
        (a worker died), and not put on the queue by any sweep in the last ``grace_s``.

        One ``UPDATE … RETURNING``: when the periodic sweeps of several processes run at once, each
        stalled event goes to exactly one of them (PostgreSQL re-checks the condition on the row the
        other sweep just updated; SQLite has one writer). Without the mark every process re-enqueued
        the whole backlog every minute, so a backlog grew its own queue (measured: 200,000 queue
        entries for 1,900 waiting events with 4 processes after 10 kills)."""
        now = self._clock()
        due = now - grace_s
        rows = self.db.execute(
            "UPDATE events SET enqueued_at=? WHERE ((state=? AND COALESCE(enqueued_at, created_at)<?)"
            " OR (state=? AND next_attempt_at<? AND COALESCE(enqueued_at, 0)<?)"
            " OR (state=? AND lease_until<? AND COALESCE(enqueued_at, 0)<?)) RETURNING *",
            (now, EventState.RECEIVED.value, due, EventState.RETRY.value, due, due,
             EventState.PROCESSING.value, now, due)).fetchall()
        return sorted((Event.from_row(r) for r in rows), key=lambda e: e.created_at)

    def events(self, *, vendor: str | None = None, ticket_id: str | None = None,
               state: EventState | None = None, since: float | None = None,
               limit: int | None = None) -> Iterator[Event]:
        """Iterate events oldest first, optionally filtered (for reports and corrections)."""
        where, args = [], []
        for column, value in (("vendor", vendor), ("ticket_id", ticket_id), ("state", state)):
            if value is not None:
                where.append(f"{column}=?")
                args.append(str(value))
        if since is not None:
            where.append("created_at>=?")
            args.append(since)
        sql = "SELECT * FROM events" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY created_at" + (f" LIMIT {int(limit)}" if limit else "")
        for row in self.db.execute(sql, args):
            yield Event.from_row(row)

    def counts_by_state(self) -> dict[str, int]:
        rows = self.db.execute("SELECT state, COUNT(*) AS n FROM events GROUP BY state")
        return {r["state"]: r["n"] for r in rows}
