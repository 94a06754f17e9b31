"""Group commit in the request threads: concurrent requests share one database transaction.

The one committer of every app (``triage serve``, ``EmbeddedService``, the demo, the benchmarks):
each app gets exactly one, from ``runtime.get_committer``, and it commits through
``EventStore.add_events``; a request is answered only after that commit.

Leader/follower, in the request threads themselves: the first request that finds no commit in
progress becomes the leader, takes every event queued so far and commits them in one transaction;
requests arriving meanwhile queue up, and the leader hands over to the oldest of them when done.
A request is answered 2xx only after the transaction holding its event committed, so the
durability promise is unchanged while the fsync cost is divided by the batch size, and an
uncontended request pays no thread hand-off. One leader at a time means one writer at a time,
without SQLite's sleeping busy handler (on PostgreSQL, one round trip per batch per receiver).
The event row is the request's only durable write: after a commit that created rows the committer
only hands their ids to the dispatcher (``webhooks.dispatcher``), which enqueues them outside the
request (the store is the source of truth; the recovery sweep covers a crash before they were enqueued).
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from plugin.config import Settings
from plugin.db import store_errors
from plugin.store import EventStore

from .intake import STORE_UNAVAILABLE, Delivery, Verdict, prepare, stored

log = logging.getLogger("webhooks.committer")
MAX_BATCH = 256


class _Pending:
    """One waiting request: its item, its outcome, and a lock it sleeps on until a leader wakes it
    (one futex per waiter, no herd: only the requests of the finished batch and the next leader
    are woken)."""

    __slots__ = ("item", "result", "error", "done", "wake")

    def __init__(self, item: dict[str, Any]) -> None:
        self.item = item
        self.result: tuple[str, bool] | None = None
        self.error: BaseException | None = None
        self.done = False
        self.wake = threading.Lock()
        self.wake.acquire()


class GroupCommitter:
    def __init__(self, settings: Settings, store: EventStore, on_commit: Callable[[list[str]], None]) -> None:
        self.settings = settings
        self.store = store
        self._db = store.writer()  # used by one leader at a time: a warm page cache, fewer reads
        self._store_errors = store_errors()
        self.on_commit = on_commit  # after a commit that created events: their ids to the dispatcher
        self._mutex = threading.Lock()  # guards _queue and _leader
        self._queue: list[_Pending] = []
        self._leader = False
        # Both sync levels batch: with the hand-off below (one futex per waiter) and one multi-row
        # INSERT per batch, batching beats a plain writer lock under NORMAL too (measured: about
        # 20 % less server CPU per request), and an uncontended request still leads its own commit.

    def submit(self, delivery: Delivery) -> Verdict:
        """Parse, guard-check and store one authenticated webhook in this thread (``intake``)."""
        try:
            prepared = prepare(self.settings, self.store, delivery)  # may read the store (dedup window)
        except self._store_errors as exc:
            log.error("cannot read the event store: %s", type(exc).__name__)
            return STORE_UNAVAILABLE
        if isinstance(prepared, Verdict):
            return prepared
        try:
            return stored(*self.add(**prepared))
        except Exception as exc:
            log.error("cannot store %s event for ticket %s: %s", prepared["vendor"], prepared["ticket_id"],
                      type(exc).__name__)
            return STORE_UNAVAILABLE

    def add(self, **item: Any) -> tuple[str, bool]:
        """Store one event durably; returns ``(event_id, created)`` once committed."""
        mine = _Pending(item)
        with self._mutex:
            self._queue.append(mine)
            lead = not self._leader
            self._leader = True
        if not lead:
            mine.wake.acquire()  # a leader committed my event, or handed the leadership to me
            if mine.done:
                return self._result(mine)
        # The leader's own event is first in the queue: a fresh leader found it empty, a handed-over
        # one was its head. So the batch always contains ``mine``.
        with self._mutex:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
        successor: _Pending | None = None
        created: list[str] = []
        try:
            try:
                results = self.store.add_events([p.item for p in batch], conn=self._db)
                for p, result in zip(batch, results):
                    p.result = result
                created = [event_id for event_id, new in results if new]
            except Exception as exc:  # every waiter of this batch gets the error and answers 503
                for p in batch:
                    p.error = exc
        finally:
            with self._mutex:  # hand over: the oldest waiter leads the next batch
                if self._queue:
                    successor = self._queue[0]
                else:
                    self._leader = False
            for p in batch:
                if p.result is None and p.error is None:  # interrupted (BaseException): not stored
                    p.error = RuntimeError("commit interrupted")
                p.done = True
                if p is not mine:
                    p.wake.release()
            if successor is not None:
                successor.wake.release()  # done is still False: it becomes the leader
        if created:
            self._committed(created)
        return self._result(mine)

    def _committed(self, event_ids: list[str]) -> None:
        try:
            self.on_commit(event_ids)
        except Exception as exc:  # the sweeps still find the rows
            log.error("dispatcher hand-off failed: %s", type(exc).__name__)

    @staticmethod
    def _result(p: _Pending) -> tuple[str, bool]:
        if p.error is not None:
            raise p.error
        assert p.result is not None
        return p.result
