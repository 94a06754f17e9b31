"""The task queue (huey): SQLite by default, Redis for multi-machine deployments; same code path.

The queue carries only event ids. The event store is the source of truth, so a lost queue entry
is recovered by ``sweep()`` (run at every start) and a duplicate one is a no-op (``claim``).
New events reach the queue through the committing process's dispatcher (``webhooks.dispatcher``), in batches,
never inside the webhook request.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Callable

from huey import RedisHuey, SqliteHuey, crontab
from huey.api import Huey
from huey.consumer import Consumer

from plugin.config import Settings
from plugin.private_files import private_file
from plugin.store import EventState, EventStore

from .jobs import JobContext, run_event

log = logging.getLogger("webhooks.queue")
TASK_NAME = "triage.process_event"
# Idle SQLite workers poll; these keep the pick-up latency of a new event around 10-25 ms.
POLL_INITIAL_S = 0.005
POLL_BACKOFF = 1.5
POLL_MAX_S = 0.025
STALL_GRACE_S = 60.0  # an event untouched this long is re-enqueued by the periodic sweep
LEASE_MARGIN_S = 0.5  # re-check a leased event this long after its lease ran out
_HOST_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


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
        """Enqueue new events (the dispatcher), through huey's public API only.

        One queue write per event (~45 us on SQLite, measured: ~22,000 ids/s on the 2-core dev box),
        far above what webhooks deliver; batching them needed huey's storage internals (its table
        layout, connection and Redis keys), which no version range of huey promises to keep.
        """
        for event_id in event_ids:
            self.enqueue_event(event_id)

    def sweep(self, *, sole_consumer: bool) -> int:
        """The start-up recovery sweep: re-enqueue unfinished events; one processing under a live
        lease (its worker may have died) when the lease runs out, a parked retry when it is due.

        The sole consumer (the embedded SQLite store and queue: nobody else can hold a lease)
        releases every lease and takes every unfinished event. With other processes about
        (PostgreSQL or Redis) a start skips what any sweep queued in the last ``STALL_GRACE_S``:
        when several processes restart together, the first one re-enqueues the backlog and the
        others do not (each start re-enqueueing it flooded the queue: measured in the crash bench,
        70,000 entries for 3,300 waiting events after 10 rounds of restarts of 4 processes).
        """
        if sole_consumer:
            self.store.release_all()
        events = self.store.take_unfinished(grace_s=0.0 if sole_consumer else STALL_GRACE_S)
        now = time.time()
        for event in events:
            if event.state == EventState.PROCESSING:
                wait = (event.lease_until or 0) - now + LEASE_MARGIN_S
            else:
                wait = (event.next_attempt_at or 0) - now
            self.enqueue_event(event.id, delay=wait if wait > 0 else None)
        if events:
            log.info("recovery sweep re-enqueued %d unfinished events", len(events))
        return len(events)

    def sweep_stalled(self) -> int:
        """Every minute while running: re-enqueue events that fell through, each by one process
        (duplicates would be no-ops, but a backlog re-enqueued by every process swamps the queue)."""
        events = self.store.take_stalled(grace_s=STALL_GRACE_S)
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
    """A huey consumer started from any thread that leaves the process's signal handlers alone.

    ``Consumer.start`` starts the scheduler and workers, then installs huey's signal handlers as
    its last step. Hosts of an embedded consumer (tests, the demo) keep their own: on the main
    thread the previous handlers are put back; on another thread installing them fails with
    ValueError after everything else has started, which is what an embedded consumer wants.
    Only public API (``start``, ``signal``) is used, so nothing here depends on huey's internals.
    """

    def start(self) -> None:
        on_main = threading.current_thread() is threading.main_thread()
        saved = {sig: signal.getsignal(sig) for sig in _HOST_SIGNALS} if on_main else {}
        try:
            super().start()
        except ValueError:
            if on_main:
                raise
        finally:
            for sig, handler in saved.items():
                signal.signal(sig, handler)


def make_queue(settings: Settings, *, store: EventStore,
               context_factory: Callable[[], JobContext] | None = None) -> TriageQueue:
    factory = context_factory or (lambda: JobContext.from_settings(settings, store))
    return TriageQueue(make_huey(settings), store, factory)
