"""The store writer process of ``triage serve``: group commit over a local socket, its dispatcher,
and its lifecycle (restart after a crash, exit with its parent)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading

import pytest

from plugin.store import EventState, EventStore
from simulators.zendesk import sign
from webhooks.intake import Delivery
from webhooks.queue import make_queue
from webhooks.writer import StoreWriter

from .conftest import REPO, ZD_SECRET, make_settings, now_ts, wait_for


def _item(n: int) -> Delivery:
    """An authenticated trigger webhook for ticket ``n`` (the same ``n`` is a redelivery)."""
    body = json.dumps({"ticket_id": str(n), "subject": "Refund", "tags": "vip"}).encode()
    return Delivery("zendesk", body)


def _add(client, delivery: Delivery) -> tuple[str, bool]:
    verdict = client.submit(delivery)
    assert verdict.status in (200, 202), verdict
    return json.loads(verdict.body)["event_id"], verdict.status == 202


@pytest.fixture
def writer(tmp_path):
    w = StoreWriter(make_settings(tmp_path)).start()
    yield w
    w.stop()


def test_events_are_committed_once_and_duplicates_get_the_stored_id(writer, tmp_path):
    client = writer.client()
    event_id, created = _add(client, _item(1))
    assert created and len(event_id) == 32
    again, created_again = _add(client, _item(1))
    assert (again, created_again) == (event_id, False)
    stored = EventStore(make_settings(tmp_path).db_path).get(event_id)
    assert stored is not None and stored.state == EventState.RECEIVED and stored.ticket_id == "1"


def test_concurrent_threads_are_all_stored_exactly_once(writer, tmp_path):
    client = writer.client()
    results: list[tuple[str, bool]] = []
    lock = threading.Lock()

    def send(start: int) -> None:
        for n in range(start, start + 50):
            out = _add(client, _item(n % 120))  # keys overlap across threads: dedup inside batches too
            with lock:
                results.append(out)

    threads = [threading.Thread(target=send, args=(t * 15,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 400
    created = [event_id for event_id, was_created in results if was_created]
    assert len(created) == len(set(created)) == len({event_id for event_id, _ in results})
    store = EventStore(make_settings(tmp_path).db_path)
    assert len(list(store.events(vendor="zendesk"))) == len(created) == 120


def test_the_writer_dispatches_new_events_to_the_queue(writer, tmp_path):
    settings = make_settings(tmp_path)
    queue = make_queue(settings, store=EventStore(settings.db_path))
    before = queue.huey.pending_count()
    for n in range(5):
        _add(writer.client(), _item(100 + n))
    assert wait_for(lambda: queue.huey.pending_count() >= before + 5, 10)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_writer_answers_unavailable_then_is_restarted(writer, tmp_path, sig):
    client = writer.client()
    kept, _ = _add(client, _item(7))
    old_pid = writer.pid
    os.kill(old_pid, sig)  # SIGTERM: it finishes its round and exits (and removes its socket)
    writer._proc.join(10)
    # the connection died with the writer: 503, the sender retries
    assert client.submit(_item(8)).status == 503
    assert wait_for(lambda: writer.pid not in (None, old_pid), 30)
    assert wait_for(lambda: client.submit(_item(8)).status == 202, 30)  # a new writer, a new connection
    assert EventStore(make_settings(tmp_path).db_path).get(kept) is not None


def test_the_writer_answers_bad_bodies_and_guarded_updates_without_storing(writer, tmp_path):
    client = writer.client()
    bad = client.submit(Delivery("zendesk", b'{"subject": "no id"}'))
    assert (bad.status, bad.outcome) == (400, "rejected_400") and "ticket id" in bad.reason
    form = client.submit(Delivery("freshdesk", b"ticket_id=31&ticket_subject=Refund&ticket_id=32", form=True))
    assert form.status == 202  # the first value of a repeated form field wins
    ignored = client.submit(Delivery("zendesk", json.dumps({"ticket_id": "9", "tags": "triage_classified"}).encode()))
    assert (ignored.status, ignored.outcome) == (200, "ignored_guard")
    store = EventStore(make_settings(tmp_path).db_path)
    assert [(e.vendor, e.ticket_id) for e in store.events()] == [("freshdesk", "31")]


@pytest.mark.parametrize("frame", [b"nojsn", b"5\nbody", b'["acme",false,null]\n{}', b'["zendesk",false,null]'])
def test_a_malformed_frame_drops_only_that_connection(writer, frame):
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    raw.connect(writer.socket_path)
    raw.sendall(len(frame).to_bytes(4, "big") + frame)
    raw.settimeout(5)
    assert raw.recv(16) == b""  # closed by the writer
    raw.close()
    assert _add(writer.client(), _item(9))[1]


def test_the_writer_exits_when_its_parent_is_killed(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(REPO)!r})
        from plugin.config import load_settings
        from webhooks.writer import StoreWriter
        if __name__ == "__main__":
            w = StoreWriter(load_settings({{"instance_dir": {str(tmp_path / "instance")!r}}}, env={{}})).start()
            print(w.pid, flush=True)
            print(w.socket_path, flush=True)
            time.sleep(120)
    """)
    path = tmp_path / "parent.py"
    path.write_text(script)
    parent = subprocess.Popen([sys.executable, str(path)], stdout=subprocess.PIPE, text=True)
    writer_pid = int(parent.stdout.readline())
    assert _alive(writer_pid)
    socket_dir = os.path.dirname(parent.stdout.readline().strip())
    assert os.path.isdir(socket_dir)
    parent.kill()
    parent.wait(10)
    assert wait_for(lambda: not _alive(writer_pid), 15), "writer outlived its killed parent"
    assert wait_for(lambda: not os.path.exists(socket_dir), 5), "the writer left its socket folder behind"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_production_app_answers_after_the_writer_commits_and_503_while_it_is_down(tmp_path):
    from webhooks.service import build

    settings = make_settings(tmp_path)
    app, _queue = build(settings)
    writer = app.extensions["triage"]["writer"]
    try:
        client = app.test_client()

        def post(ticket: int):
            body = json.dumps({"ticket_id": str(ticket), "subject": "Refund"}).encode()
            ts = now_ts()
            return client.post("/webhooks/zendesk", data=body, content_type="application/json",
                               headers={"X-Zendesk-Webhook-Signature": sign(ZD_SECRET, ts, body),
                                        "X-Zendesk-Webhook-Signature-Timestamp": ts})

        answer = post(41)
        assert answer.status_code == 202
        assert EventStore(settings.db_path).get(answer.get_json()["event_id"]) is not None
        os.kill(writer.pid, signal.SIGKILL)
        writer._proc.join(10)
        down = post(42)
        assert down.status_code == 503 and "error" in down.get_json()
        assert wait_for(lambda: post(42).status_code == 202, 30)
    finally:
        writer.stop()


def test_frames_are_sent_without_a_gil_release_when_possible_and_completed_otherwise(monkeypatch):
    import webhooks.writer as writer_module

    if os.name == "posix":
        assert writer_module._libc_send is not None  # the fast path is what production uses here
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b:
        writer_module._send_holding_gil(a, b"frame-1")
        assert b.recv(64) == b"frame-1"
        for fake_result in (3, -1):  # a partial send, then EAGAIN/error: the rest goes through sendall
            monkeypatch.setattr(writer_module, "_libc_send", lambda fd, data, n, flags, r=fake_result: r)
            writer_module._send_holding_gil(a, b"abcdefgh")
            expected = b"defgh" if fake_result == 3 else b"abcdefgh"
            assert b.recv(64) == expected
        b.close()
        monkeypatch.setattr(writer_module, "_libc_send", writer_module._load_send_without_gil_release())
        with pytest.raises(OSError):
            writer_module._send_holding_gil(a, b"to a closed peer")
