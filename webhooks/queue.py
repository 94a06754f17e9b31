"""The task queue (huey): SQLite by default, Redis for multi-machine deployments; same code path.

The queue carries only event ids. The event store is the source of truth, so a lost queue entry
is recovered by ``sweep()`` (run at every start) and a duplicate one is a no-op (``claim``).
New events reach the queue through the committing process's dispatcher (``webhooks.dispatcher``), in batches,
never inside the webhook request.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from huey import RedisHuey, SqliteHuey, crontab
from huey.api import Huey
from huey.consumer import Consumer
from huey.storage import RedisStorage, SqliteStorage

from plugin.config import Settings
from plugin.private_files import private_file
from plugin.store import EventStore, new_event_id

from .jobs import JobContext, run_event

log = logging.getLogger("webhooks.queue")
TASK_NAME = "triage.process_event"
# Idle SQLite workers poll; these keep the pick-up latency of a new event around 10-25 ms.
POLL_INITIAL_S = 0.005
POLL_BACKOFF = 1.5
POLL_MAX_S = 0.025
STALL_GRACE_S = 60.0  # an event untouched this long is re-enqueued by the periodic sweep


def make_huey(settings: Settings) -> Huey:
    if settings.queue_backend == "redis":
        return RedisHuey("triage", url=settings.redis_url, results=False)
    private_file(settings.queue_path)  # job data: owner-only, like the event store
    # fsync off for the queue: the event store (synchronous=FULL) is what must survive power loss.
    return SqliteHuey("triage", filename=str(settings.queue_path), results=False, fsync=False)


class TriageQueue:
    """Enqueue event ids, recover unfinished events, run consumers."""

    def __init__(self, huey: Huey, store: EventStore,
                 context_factory: Callable[[], JobContext]) -> None:
        self.huey = huey
        self.store = store
        self._context_factory = context_factory
        self._context: JobContext | None = None
        self._lock = threading.Lock()
        self._task = huey.task(name=TASK_NAME, retries=0)(self._run)
        huey.periodic_task(crontab(minute="*"), name="triage.sweep_stalled")(self.sweep_stalled)

    def context(self) -> JobContext:
        """Built on first use in the process that consumes (the receiver never needs the model)."""
        with self._lock:
            if self._context is None:
                self._context = self._context_factory()
            return self._context

    def _run(self, event_id: str) -> None:
        delay = run_event(self.context(), event_id)
        if delay is not None:
            self.enqueue_event(event_id, delay=delay)

    def enqueue_event(self, event_id: str, delay: float | None = None) -> None:
        if delay:
            self._task.schedule(args=(event_id,), delay=delay)
        else:
            self._task(event_id)

    def enqueue_events(self, event_ids: list[str]) -> None:
        """Enqueue many new events at once (the dispatcher): one queue transaction / round trip.

        The messages are huey's own (``serialize_task``); only the storage write is batched, for
        the two storages we ship. Anything else (or immediate mode) goes through ``huey.enqueue``.
        """
        if not event_ids:
            return
        storage = self.huey.storage
        if not self.huey.immediate and type(storage) in (SqliteStorage, RedisStorage):
            # task ids from the store's cheap unique generator (uuid4 costs a syscall per task)
            blobs = [self.huey.serialize_task(self._task.s(event_id, id=new_event_id())) for event_id in event_ids]
            if isinstance(storage, SqliteStorage):
                for i in range(0, len(blobs), 400):  # one statement = one transaction, one step
                    chunk = blobs[i:i + 400]
                    with storage.db() as curs:
                        curs.execute("insert into task (queue, data, priority) values "
                                     + ",".join(["(?, ?, 0)"] * len(chunk)),
                                     [v for blob in chunk for v in (storage.name, storage.to_blob(blob))])
            else:
                storage.conn.lpush(storage.queue_key, *blobs)
            return
        for event_id in event_ids:
            self.enqueue_event(event_id)

    def sweep(self, *, release_leases: bool = False) -> int:
        """Re-enqueue every unfinished event. ``release_leases`` only for the sole consumer."""
        if release_leases:
            self.store.release_all()
        events = self.store.unfinished()
        now = time.time()
        for event in events:  # a parked retry keeps its backoff / Retry-After
            wait = (event.next_attempt_at or 0) - now
            self.enqueue_event(event.id, delay=wait if wait > 0 else None)
        if events:
            log.info("recovery sweep re-enqueued %d unfinished events", len(events))
        return len(events)

    def sweep_stalled(self) -> int:
        """Every minute while running: re-enqueue events that fell through (duplicates are no-ops)."""
        events = self.store.stalled(grace_s=STALL_GRACE_S)
        for event in events:
            self.enqueue_event(event.id)
        if events:
            log.warning("re-enqueued %d stalled events", len(events))
        return len(events)

    def consumer(self, workers: int, *, embedded: bool, graceful_signal: str = "INT") -> Consumer:
        cls = EmbeddedConsumer if embedded else Consumer
        return cls(self.huey, workers=workers, worker_type="thread", periodic=True,
                   initial_delay=POLL_INITIAL_S, backoff=POLL_BACKOFF, max_delay=POLL_MAX_S,
                   scheduler_interval=1, check_worker_health=True,
                   graceful_signal=graceful_signal)


class EmbeddedConsumer(Consumer):
    """A huey consumer that can start in any thread: it leaves signal handling to its host."""

    def _set_signal_handlers(self) -> None:
        pass


def make_queue(settings: Settings, *, store: EventStore,
               context_factory: Callable[[], JobContext] | None = None) -> TriageQueue:
    factory = context_factory or (lambda: JobContext.from_settings(settings, store))
    return TriageQueue(make_huey(settings), store, factory)
