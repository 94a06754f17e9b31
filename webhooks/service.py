"""Run the service: one intake path for ``triage serve``, the tests, the demo and the benchmarks.

waitress serves the app; a request is verified, parsed and committed in the request thread
(``webhooks.committer``: group commit, one fsync per batch), then answered 2xx. A dispatcher thread
moves stored events into the huey queue, and huey consumer threads run the jobs. The recovery sweep
runs first. ``EmbeddedService`` is the same thing on an ephemeral port, in the caller's process.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from flask import Flask

from plugin.config import Settings

from .queue import TriageQueue

log = logging.getLogger("webhooks.service")
WAITRESS_THREADS = 8  # request threads; a webhook request verifies, then waits for its group commit


def waitress_body_cap(settings: Settings) -> int:
    """Waitress's own hard cap, above the app's limit on purpose.

    Waitress answers an over-size body itself with a plain-text 413; keeping its cap above
    ``max_body_bytes`` lets Flask answer the usual over-size request with the JSON 413 every
    other rejection uses, while waitress still bounds what a hostile client can make it buffer.
    """
    return 2 * settings.max_body_bytes + 64 * 1024


def build(settings: Settings, *, context_factory: Callable | None = None) -> tuple[Flask, TriageQueue]:
    """The production app with its queue, dispatcher and committer, after a recovery sweep.

    The dispatcher starts before the sweep: it gets the rows committed from then on, the sweep
    covers the older ones (an event both see is enqueued twice, which is harmless: ``claim``).
    Only the embedded deployment (SQLite store and queue: the sole consumer) releases stale leases;
    with PostgreSQL or Redis another host may be processing, and its leases expire on their own.
    """
    from . import create_app
    from .queue import make_queue
    from .runtime import get_committer, get_store

    app = create_app(settings)
    with app.app_context():
        queue = make_queue(settings, store=get_store(), context_factory=context_factory)
        app.extensions["triage"]["queue"] = queue
        get_committer()  # and the dispatcher it wakes
    queue.sweep(sole_consumer=settings.embedded)
    return app, queue


def make_server(app: Flask, settings: Settings, *, port: int | None = None, sockets: dict | None = None):
    """The production HTTP server (waitress) for ``app``; ``port=0`` picks a free one.

    ``sockets``: the socket map its loop serves (waitress's ``map``), for a caller that stops it."""
    import waitress

    return waitress.create_server(app, map=sockets, host=settings.host,
                                  port=settings.port if port is None else port, threads=WAITRESS_THREADS,
                                  max_request_body_size=waitress_body_cap(settings), ident="triage")


def close_server(server, sockets: dict, thread: threading.Thread | None = None) -> None:
    """Stop a ``make_server(..., sockets=sockets)`` server: the requests in hand finish, then its
    own loop thread closes every socket it serves (closing them from another thread races its
    select), which ends its loop."""
    from waitress import wasyncore

    server.task_dispatcher.shutdown()
    if thread is not None and not thread.is_alive():
        return  # already stopped: its loop ended and closed the trigger with everything else
    server.trigger.pull_trigger(lambda: wasyncore.close_all(sockets))
    if thread is not None:
        thread.join(5)


def _stop_dispatcher(app: Flask) -> None:
    dispatcher = app.extensions["triage"].get("dispatcher")
    if dispatcher is not None:
        dispatcher.stop()  # undispatched events stay `received` for the next sweep


def serve(settings: Settings, *, announce=print) -> int:
    """Serve until SIGINT/SIGTERM; both stop gracefully (running jobs finish, the rest stay stored)."""
    app, queue = build(settings)
    queue.context()  # load the model before the first ticket arrives
    sockets: dict = {}
    server = make_server(app, settings, sockets=sockets)
    http = threading.Thread(target=server.run, name="http", daemon=True)
    http.start()
    announce(f"triage serve: listening on http://{settings.host}:{server.effective_port} "
             f"(queue {settings.queue_backend}, store {_store_kind(settings)}, {settings.workers} workers,"
             f" instance {settings.instance_dir})")
    consumer = queue.consumer(settings.workers, embedded=False, graceful_signal="TERM")
    try:
        consumer.run()  # main thread: owns the signal handlers
    finally:
        close_server(server, sockets, http)
        _stop_dispatcher(app)
    return 0


def _store_kind(settings: Settings) -> str:
    """For the start-up line: never the URL (it may hold a password)."""
    return "postgresql" if settings.database_url is not None else "sqlite"


def work(settings: Settings, *, announce=print) -> int:
    """A standalone consumer (Redis deployments run several). New events reach its queue through
    the dispatcher of the ``triage serve`` that stored them; with the SQLite store it shares that
    receiver's host (the store file), with PostgreSQL it runs anywhere that reaches the database and
    Redis. Its start-up sweep re-enqueues unfinished events without stealing live leases."""
    from plugin.store import EventStore

    from .queue import make_queue

    queue = make_queue(settings, store=EventStore(settings.database, synchronous=settings.store_synchronous))
    queue.sweep(sole_consumer=False)
    queue.context()
    announce(f"triage worker: {settings.workers} workers on {settings.queue_backend} queue,"
             f" store {_store_kind(settings)}")
    queue.consumer(settings.workers, embedded=False, graceful_signal="TERM").run()
    return 0


class EmbeddedService:
    """``serve`` in this process on an ephemeral port (tests, demo, bench): the same ``build`` and
    the same waitress server, with the consumer threads optional and signals left to the host."""

    def __init__(self, settings: Settings, *, context_factory: Callable | None = None) -> None:
        self.settings = settings
        self.app, self.queue = build(settings, context_factory=context_factory)
        self.store = self.queue.store
        self.dispatcher = self.app.extensions["triage"]["dispatcher"]
        self._sockets: dict = {}
        self._server = make_server(self.app, settings, port=0, sockets=self._sockets)
        self.port = self._server.effective_port
        self.base_url = f"http://{settings.host}:{self.port}"
        self._consumer = None
        self._http: threading.Thread | None = None
        self._stopped = False

    def start(self, *, consume: bool = True) -> "EmbeddedService":
        self._http = threading.Thread(target=self._server.run, daemon=True, name="triage-http")
        self._http.start()
        if consume:
            self.queue.context()
            self._consumer = self.queue.consumer(self.settings.workers, embedded=True)
            self._consumer.start()
        return self

    def stop(self) -> None:
        """Stop serving and consuming; a second call does nothing."""
        if self._stopped:
            return
        self._stopped = True
        close_server(self._server, self._sockets, self._http)
        _stop_dispatcher(self.app)
        if self._consumer is not None:
            self._consumer.stop(graceful=True)
