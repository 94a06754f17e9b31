"""Run the service: waitress for HTTP, the store writer process (group commit + dispatcher:
stored events → queue), huey consumer threads for jobs, recovery sweep first."""

from __future__ import annotations

import logging
import threading

from plugin.config import Settings

log = logging.getLogger("webhooks.service")
WAITRESS_THREADS = 8  # request threads; a webhook request verifies and waits for the store writer


def waitress_body_cap(settings: Settings) -> int:
    """Waitress's own hard cap, above the app's limit on purpose.

    Waitress answers an over-size body itself with a plain-text 413; keeping its cap above
    ``max_body_bytes`` lets Flask answer the usual over-size request with the JSON 413 every
    other rejection uses, while waitress still bounds what a hostile client can make it buffer.
    """
    return 2 * settings.max_body_bytes + 64 * 1024


def build(settings: Settings):
    """The production app: its queue, the store writer process (group commit + dispatcher, see
    ``webhooks.writer``) as its committer, and a recovery sweep (a sole SQLite consumer may release
    stale leases). The writer starts first: its dispatcher follows rows committed from then on,
    the sweep covers the older ones (an event both see is enqueued twice, which is harmless)."""
    from . import create_app
    from .runtime import get_queue
    from .writer import StoreWriter

    app = create_app(settings)
    writer = StoreWriter(settings).start()
    app.extensions["triage"].update(writer=writer, committer=writer.client())
    with app.app_context():
        queue = get_queue()
    queue.sweep(release_leases=settings.queue_backend == "sqlite")
    return app, queue


def make_server(app, settings: Settings, *, port: int | None = None):
    """The production HTTP server (waitress) for ``app``; ``port=0`` picks a free one (bench)."""
    import waitress

    return waitress.create_server(app, host=settings.host, port=settings.port if port is None else port,
                                  threads=WAITRESS_THREADS, max_request_body_size=waitress_body_cap(settings),
                                  ident="triage")


def serve(settings: Settings, *, announce=print) -> int:
    """Serve until SIGINT/SIGTERM; both stop gracefully (running jobs finish, the rest stay stored)."""
    app, queue = build(settings)
    queue.context()  # load the model before the first ticket arrives
    server = make_server(app, settings)
    http = threading.Thread(target=server.run, name="http", daemon=True)
    http.start()
    announce(f"triage serve: listening on http://{settings.host}:{server.effective_port} "
             f"(queue {settings.queue_backend}, {settings.workers} workers, instance {settings.instance_dir})")
    consumer = queue.consumer(settings.workers, embedded=False, graceful_signal="TERM")
    try:
        consumer.run()  # main thread: owns the signal handlers
    finally:
        server.close()
        app.extensions["triage"]["writer"].stop()  # undispatched events stay `received` for the next sweep
    return 0


def work(settings: Settings, *, announce=print) -> int:
    """A standalone consumer (Redis deployments run several). New events reach its queue through
    the dispatcher of the ``triage serve`` writer process that stored them (the store is one SQLite file,
    so receiver and workers share a host); its start-up sweep re-enqueues unfinished ones."""
    from plugin.store import EventStore

    from .queue import make_queue

    queue = make_queue(settings, store=EventStore(settings.db_path, synchronous=settings.store_synchronous))
    queue.sweep(release_leases=False)
    queue.context()
    announce(f"triage worker: {settings.workers} workers on {settings.queue_backend} queue")
    queue.consumer(settings.workers, embedded=False, graceful_signal="TERM").run()
    return 0


class EmbeddedService:
    """Service + consumer threads in this process, on an ephemeral port (tests, demo, bench)."""

    def __init__(self, settings: Settings, *, context_factory=None) -> None:
        from werkzeug.serving import make_server

        from . import create_app
        from .queue import make_queue
        from .runtime import get_dispatcher, get_store

        self.settings = settings
        self.app = create_app(settings)
        with self.app.app_context():
            store = get_store()
        self.queue = make_queue(settings, store=store, context_factory=context_factory)
        self.app.extensions["triage"]["queue"] = self.queue
        with self.app.app_context():
            self.dispatcher = get_dispatcher()  # runs even without consumers (Redis + `triage worker`)
        self.store = store
        self._server = make_server(settings.host, 0, self.app, threaded=True)
        self.port = self._server.server_port
        self.base_url = f"http://{settings.host}:{self.port}"
        self._consumer = None

    def start(self, *, consume: bool = True) -> "EmbeddedService":
        threading.Thread(target=self._server.serve_forever, daemon=True, name="triage-http").start()
        if consume:
            self.queue.sweep(release_leases=True)
            self.queue.context()
            self._consumer = self.queue.consumer(self.settings.workers, embedded=True)
            self._consumer.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.dispatcher.stop()
        if self._consumer is not None:
            self._consumer.stop(graceful=True)
