"""Dispatcher: moves newly committed events from the event store into the task queue.

A webhook request makes ONE durable write (its event row, see ``committer``) and is answered; after
each commit that created rows the committer hands their ids to this thread (``handoff``: a list
append, never blocking the request), which puts them on the huey queue (SQLite or Redis), many per
queue transaction. The hand-off is in memory and per process, so it is the same on SQLite and on
PostgreSQL with several receivers: each receiver dispatches exactly the rows it committed, and no
cursor over a shared table has to guess in which order concurrent transactions committed.

Nothing here is durable on purpose: the event row is the source of truth. If the process dies
before an event was dispatched, the recovery sweep at the next start re-enqueues it (and, when this
receiver never comes back, the periodic sweep of any consumer re-enqueues rows left ``received``
for a minute); if enqueueing fails (Redis down), the ids stay pending and the dispatcher retries.
A duplicate queue entry is a no-op (the job claims the row first).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from plugin.store import EventStore

log = logging.getLogger("webhooks.dispatcher")
# Under load (a dispatch found several events within BUSY_S) wait COALESCE_S after a wake-up, so
# one queue transaction carries a burst instead of one commit's events; isolated events go at once.
COALESCE_S = 0.005
BUSY_S = 0.05
BATCH = 500
RETRY_S = 0.5  # after an enqueue failure


class Dispatcher:
    def __init__(self, store: EventStore, enqueue_many: Callable[[list[str]], None]) -> None:
        self.store = store
        self._enqueue_many = enqueue_many
        self._pending: list[str] = []  # committed, not yet on the queue (guarded by _lock)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._last_burst = 0.0  # when a dispatch last found several events (a sign of load)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def start(self) -> "Dispatcher":
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="triage-dispatch", daemon=True)
                self._thread.start()
        return self

    def handoff(self, event_ids: list[str]) -> None:
        """Called after a commit with the ids it created (cheap; never blocks the request)."""
        if not event_ids:
            return
        with self._lock:
            self._pending.extend(event_ids)
        if not self._wake.is_set():  # set() takes the condition's lock and notifies: skip if pending
            self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the current batch; undispatched events stay ``received`` for the next sweep."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            if time.monotonic() - self._last_burst < BUSY_S:
                time.sleep(COALESCE_S)  # under load: let more commits join this queue transaction
            self._wake.clear()  # before taking the ids: a hand-off after this point sets it again
            if self._stop.is_set():
                break
            try:
                if self.dispatch_pending() > 1:
                    self._last_burst = time.monotonic()
            except Exception as exc:  # queue unavailable: the ids stay pending, retry shortly
                log.error("dispatch failed, retrying: %s: %s", type(exc).__name__, exc)
                self._wake.set()
                self._stop.wait(RETRY_S)
        self.store.close()

    def dispatch_pending(self) -> int:
        """Enqueue every id handed off so far, ``BATCH`` at a time; returns how many.
        An id leaves the pending list only once its batch was enqueued."""
        total = 0
        while True:
            with self._lock:
                batch = self._pending[:BATCH]
            if not batch:
                return total
            self._enqueue_many(batch)
            with self._lock:
                del self._pending[:len(batch)]
            total += len(batch)
