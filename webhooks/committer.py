"""Group commit: concurrent webhook requests share one SQLite transaction (and one fsync).

Leader/follower, in the request threads themselves: the first request that finds no commit in
progress becomes the leader, takes every event queued so far and commits them in one transaction;
requests arriving meanwhile queue up and wait for the next leader. A request is answered 2xx only
after the transaction holding its event committed, so the durability promise is unchanged while
the fsync cost is divided by the batch size, and an uncontended request pays no thread hand-off.
Enqueueing to the task queue happens after the commit (the store is the source of truth; the
recovery sweep covers a crash in between).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable

from plugin.store import EventStore

log = logging.getLogger("webhooks.committer")
MAX_BATCH = 256


@dataclass
class _Pending:
    item: dict[str, Any]
    result: tuple[str, bool] | None = None
    error: BaseException | None = None
    done: bool = False


class GroupCommitter:
    def __init__(self, store: EventStore, on_created: Callable[[str], None]) -> None:
        self.store = store
        self.on_created = on_created
        self._cv = threading.Condition()
        self._queue: list[_Pending] = []
        self._leader = False
        # Batching pays only when a commit waits for fsync; without it the wake-ups cost more.
        self._batch = store.synchronous == "FULL"
        self._lock = threading.Lock()

    def add(self, **item: Any) -> tuple[str, bool]:
        """Store one event durably; returns ``(event_id, created)`` once committed."""
        if not self._batch:
            with self._lock:  # one writer at a time, without SQLite's sleeping busy handler
                event_id, created = self.store.add_events([item])[0]
            if created:
                self._created(event_id)
            return event_id, created
        mine = _Pending(item)
        with self._cv:
            self._queue.append(mine)
            while not mine.done and self._leader:
                self._cv.wait()
            if mine.done:
                return self._result(mine)
            self._leader = True
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
        try:
            results = self.store.add_events([p.item for p in batch])
            for p, result in zip(batch, results):
                p.result = result
        except Exception as exc:  # every waiter of this batch gets the error and answers 503
            results = []
            for p in batch:
                p.error = exc
        with self._cv:
            for p in batch:
                p.done = True
            self._leader = False
            self._cv.notify_all()
        for event_id, created in results:
            if created:
                self._created(event_id)
        if not mine.done:  # more than MAX_BATCH were waiting; go round again
            return self.add(**item)
        return self._result(mine)

    def _created(self, event_id: str) -> None:
        try:
            self.on_created(event_id)
        except Exception as exc:  # the sweep re-enqueues at next start
            log.error("enqueue failed for event %s: %s", event_id, type(exc).__name__)

    @staticmethod
    def _result(p: _Pending) -> tuple[str, bool]:
        if p.error is not None:
            raise p.error
        assert p.result is not None
        return p.result
