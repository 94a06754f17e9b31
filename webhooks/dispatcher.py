"""Dispatcher: moves newly committed events from the event store into the task queue.

A webhook request makes ONE durable write (its event row, see ``committer`` / ``writer``) and is
answered; this thread, in the process that commits, then puts the new events' ids on the huey queue
(SQLite or Redis), many per queue transaction. The committer wakes it after every commit that created rows,
so the hand-off costs no polling delay; a short fallback poll covers rows written by anything else.

It follows the store's rowid (rows are appended in commit order by SQLite's single writer), so it
needs no extra column and no second write to the event row. Nothing here is durable on purpose:
the event row is the source of truth. If the process dies before an event was dispatched, the
recovery sweep at the next start re-enqueues it; if enqueueing fails (Redis down), the cursor does
not move and the dispatcher retries; the consumers' periodic sweep re-enqueues anything untouched
for a minute. A duplicate queue entry is a no-op (the job claims the row first).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from plugin.store import EventStore

log = logging.getLogger("webhooks.dispatcher")
FALLBACK_POLL_S = 0.25  # only a safety net: every commit through the committer wakes the thread
# Under load (a dispatch found several events within BUSY_S) wait COALESCE_S after a wake-up, so
# one queue transaction carries a burst instead of one commit's events; isolated events go at once.
COALESCE_S = 0.005
BUSY_S = 0.05
BATCH = 500
RETRY_S = 0.5  # after an enqueue failure


class Dispatcher:
    def __init__(self, store: EventStore, enqueue_many: Callable[[list[str]], None], *,
                 poll_s: float = FALLBACK_POLL_S) -> None:
        self.store = store
        self._enqueue_many = enqueue_many
        self.poll_s = poll_s
        # Rows already present are the recovery sweep's business (run at every start).
        self._cursor = store.max_rowid()
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

    def wake(self) -> None:
        """Called after a commit that created events (cheap; never blocks the request)."""
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
            woken = self._wake.wait(self.poll_s)
            if woken and time.monotonic() - self._last_burst < BUSY_S:
                time.sleep(COALESCE_S)  # under load: let more commits join this queue transaction
            self._wake.clear()  # before reading: a commit after this point sets it again
            if self._stop.is_set():
                break
            try:
                if self.dispatch_pending() > 1:
                    self._last_burst = time.monotonic()
            except Exception as exc:  # store or queue unavailable: keep the cursor, retry shortly
                log.error("dispatch failed, retrying: %s: %s", type(exc).__name__, exc)
                self._stop.wait(RETRY_S)
        self.store.close()

    def dispatch_pending(self) -> int:
        """Enqueue every ``received`` event committed after the cursor; returns how many."""
        total = 0
        while True:
            seen, last, ids = self.store.received_after(self._cursor, limit=BATCH)
            if ids:
                self._enqueue_many(ids)
                total += len(ids)
            self._cursor = last
            if seen < BATCH:
                return total
