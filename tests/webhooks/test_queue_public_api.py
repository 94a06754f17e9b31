"""Libraries through their public API only: the queue enqueues with huey's own calls, the embedded
consumer leaves the host's signal handlers alone from any thread, LiteRT's generated schema module
is used only in tested versions, and product code reaches into no other object's private names."""

from __future__ import annotations

import ast
import signal
import threading
from pathlib import Path

import pytest

from plugin.config import load_settings
from plugin.store import EventStore
from webhooks.queue import EmbeddedConsumer, make_queue

REPO = Path(__file__).resolve().parents[2]
PRODUCT = ("plugin", "webhooks", "tflite_fallback", "prompts")
# documented despite the underscore (werkzeug's LocalProxy API), the class's own private state, or
# used only in type annotations (never evaluated: ``from __future__ import annotations``)
ALLOWED_PRIVATE = {"_get_current_object", "_version", "_hash_version", "_SubParsersAction"}


def _queue(tmp_path, ran: list[str]):
    settings = load_settings({"instance_dir": tmp_path / "instance", "workers": 1}, env={})
    queue = make_queue(settings, store=EventStore(settings.db_path))
    queue._task = queue.huey.task(name="test.record", retries=0)(lambda event_id: ran.append(event_id))
    return queue


def test_enqueue_events_goes_through_hueys_public_api(tmp_path, monkeypatch):
    ran: list[str] = []
    queue = _queue(tmp_path, ran)
    calls: list[object] = []
    real = queue.huey.enqueue
    monkeypatch.setattr(queue.huey, "enqueue", lambda task: (calls.append(task), real(task))[1])
    queue.enqueue_events(["a", "b", "c"])
    assert len(calls) == 3 and queue.huey.pending_count() == 3
    for _ in range(3):
        queue.huey.execute(queue.huey.dequeue())
    assert ran == ["a", "b", "c"]


@pytest.mark.parametrize("where", ["main thread", "other thread"])
def test_embedded_consumer_keeps_the_hosts_signal_handlers(tmp_path, where):
    ran: list[str] = []
    queue = _queue(tmp_path, ran)
    mine = lambda signum, frame: None  # noqa: E731
    before = {sig: signal.signal(sig, mine) for sig in (signal.SIGINT, signal.SIGTERM)}
    consumer = EmbeddedConsumer(queue.huey, workers=1, worker_type="thread", periodic=False,
                                initial_delay=0.01, max_delay=0.05)
    try:
        if where == "main thread":
            consumer.start()
        else:
            errors: list[BaseException] = []
            t = threading.Thread(target=lambda: _capture(consumer.start, errors))
            t.start()
            t.join(10)
            assert errors == []
        assert signal.getsignal(signal.SIGINT) is mine and signal.getsignal(signal.SIGTERM) is mine
        queue.enqueue_events(["x"])
        deadline = threading.Event()
        for _ in range(100):
            if ran:
                break
            deadline.wait(0.05)
        assert ran == ["x"]  # the workers did start
    finally:
        consumer.stop(graceful=True)
        for sig, handler in before.items():
            signal.signal(sig, handler)


def _capture(fn, errors):
    try:
        fn()
    except BaseException as exc:  # noqa: BLE001 - reported to the test thread
        errors.append(exc)


def test_litert_generated_schema_only_in_tested_versions():
    pytest.importorskip("ai_edge_litert")
    from tflite_fallback.export_tflite import check_litert_version

    assert check_litert_version("2.3.0") == "2.3.0" and check_litert_version()
    for version in ("0.9.1", "3.0.0", "10.1"):
        with pytest.raises(ImportError, match="not a tested version"):
            check_litert_version(version)


def test_product_code_uses_no_private_names_of_other_objects():
    found = []
    for top in PRODUCT:
        for path in (REPO / top).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
                        and node.attr not in ALLOWED_PRIVATE):
                    found.append(f"{path.relative_to(REPO)}:{node.lineno} .{node.attr}")
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("huey.storage"):
                    found.append(f"{path.relative_to(REPO)}:{node.lineno} imports huey's storage internals")
    assert found == []
