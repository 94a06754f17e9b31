"""Per-app resources (event store, queue, metrics), opened lazily: flaskr's ``get_db`` pattern."""

from __future__ import annotations

import threading

from flask import Flask, current_app

from plugin.config import Settings
from plugin.store import EventStore

from .metrics import Metrics

_LOCK = threading.RLock()


def init_app(app: Flask) -> None:
    app.extensions["triage"] = {"metrics": Metrics()}


def settings() -> Settings:
    return current_app.config["SETTINGS"]


def _get(name: str, factory):
    ext = current_app.extensions["triage"]
    if name not in ext:
        with _LOCK:
            if name not in ext:
                ext[name] = factory()
    return ext[name]


def get_store() -> EventStore:
    return _get("store", lambda: EventStore(settings().database, synchronous=settings().store_synchronous))


def get_queue():
    """The huey queue for this app's settings (``queue.make_queue``); tests may pre-seed it."""
    from .queue import make_queue

    return _get("queue", lambda: make_queue(settings(), store=get_store()))


def metrics() -> Metrics:
    return current_app.extensions["triage"]["metrics"]


def get_dispatcher():
    """The thread that moves this app's newly stored events into its queue (started on first use)."""
    from .dispatcher import Dispatcher

    def make():
        return Dispatcher(get_store(), get_queue().enqueue_events).start()
    return _get("dispatcher", make)


def get_committer():
    """The app's one committer (group commit in the request threads); each commit hands its new ids
    to the dispatcher."""
    from .committer import GroupCommitter

    def make():
        dispatcher = get_dispatcher()  # resolved here: the committer runs outside any app context
        return GroupCommitter(settings(), get_store(), dispatcher.handoff)
    return _get("committer", make)
