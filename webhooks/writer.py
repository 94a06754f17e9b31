"""Store writer process: the one SQLite writer of ``triage serve``, fed by the request threads.

Why a process: the receiver is bound by its GIL (measured: one core busy, the other mostly idle
under webhook load). In the receiver, committing an event cost thread hand-offs and GIL
round trips around every SQLite step and fsync, and the dispatcher thread competed for the same
lock. Here the request thread authenticates the webhook, sends the raw body over a local socket
and sleeps until the reply; parsing and the guard check (``intake.prepare``), the group commit
(``EventStore.add_events``), its fsync and the dispatcher run in this process, on the other core.
The promise is unchanged: a 2xx reply comes only after the transaction holding the event committed.

Protocol: length-prefixed frames over a Unix stream socket, one connection per request thread (a
thread waits for its own reply, so frames on one connection never interleave). Request: the JSON
list ``[vendor, form, invocation_id]``, a newline, then the raw body. Reply: the ``Verdict`` as a
JSON list. Every frame that arrived by the time the loop wakes is prepared, and the events among
them go into ONE transaction.

Lifetime: started by ``StoreWriter.start`` (spawned, so no threads are forked), it stops when its
control pipe closes (graceful stop: the batch in hand is committed and answered) or when the
parent dies (``kill -9``: whatever it received is committed, nobody is answered, so the sender
retries and dedup keeps it once). SIGTERM also stops it after the batch in hand; SIGINT is left to
the parent (Ctrl-C reaches the whole process group, and the parent stops us once it has drained).
If it dies while serving, the parent starts a new one; meanwhile requests get 503 and the sender
retries, so no answered event depends on it.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import selectors
import shutil
import signal
import socket
import struct
import tempfile
import threading
from pathlib import Path
from typing import Any

from plugin.config import Settings

from .intake import STORE_UNAVAILABLE, Delivery, Verdict, prepare, rejection, stored

log = logging.getLogger("webhooks.writer")
_LEN = struct.Struct("!I")
MAX_FRAME = 8 * 1024 * 1024  # an event payload is bounded by max_body_bytes (1 MB by default)
READY_TIMEOUT_S = 60.0
REPLY_TIMEOUT_S = 30.0  # a commit waits at most SQLite's busy timeout
SELECT_TIMEOUT_S = 0.2  # how soon a SIGTERM is noticed when idle
RESTART_DELAY_S = 0.5  # lets a shutdown that killed the writer first finish before we restart it


class StoreUnavailable(RuntimeError):
    """The writer cannot be reached (not running, or restarting)."""


# --- the receiver's side ---------------------------------------------------------------------


class StoreWriter:
    """Starts, supervises and stops the writer process; ``client()`` is the app's committer."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._dir = Path(tempfile.mkdtemp(prefix="triage-writer-"))  # 0700: only this user connects
        self.socket_path = str(self._dir / "writer.sock")  # short: AF_UNIX paths stop at ~100 bytes
        self._ctx = multiprocessing.get_context("spawn")
        self._proc: multiprocessing.process.BaseProcess | None = None
        self._control = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._supervisor: threading.Thread | None = None

    def start(self) -> "StoreWriter":
        """Start the process and return once it listens (its dispatcher follows rows from then on)."""
        self._spawn()
        self._supervisor = threading.Thread(target=self._supervise, name="triage-writer-supervisor", daemon=True)
        self._supervisor.start()
        return self

    def client(self) -> "WriterClient":
        return WriterClient(self.socket_path)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful: the writer answers the batch in hand, stops its dispatcher and exits."""
        self._stopping.set()
        with self._lock:
            proc, control = self._proc, self._control
        if control is not None:
            control.close()  # EOF on the control pipe is the stop order
        if proc is not None:
            proc.join(timeout)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
        shutil.rmtree(self._dir, ignore_errors=True)

    def _spawn(self) -> None:
        parent_end, child_end = self._ctx.Pipe()
        proc = self._ctx.Process(target=_writer_main, name="triage-writer",
                                 args=(self.settings, self.socket_path, child_end, logging.getLogger().getEffectiveLevel()),
                                 daemon=True)
        proc.start()
        child_end.close()
        if not parent_end.poll(READY_TIMEOUT_S):
            proc.kill()
            raise RuntimeError("store writer did not start")
        try:
            message = parent_end.recv()
        except EOFError:
            message = "exited during start-up"
        if message != "ready":
            proc.join(5)
            raise RuntimeError(f"store writer failed to start: {message}")
        with self._lock:
            self._proc, self._control = proc, parent_end

    def _supervise(self) -> None:
        """Restart the writer if it dies while serving (requests get 503 until it is back)."""
        from multiprocessing.connection import wait

        while not self._stopping.is_set():
            with self._lock:
                proc = self._proc
            if proc is None:
                return
            wait([proc.sentinel])
            if self._stopping.wait(RESTART_DELAY_S):
                return
            log.error("store writer exited (code %s); starting a new one", proc.exitcode)
            with self._lock:
                if self._control is not None:
                    self._control.close()
                    self._control = None
            try:
                self._spawn()
            except Exception as exc:  # keep trying: the receiver answers 503 meanwhile
                log.error("store writer restart failed: %s", exc)
                self._stopping.wait(1.0)


class WriterClient:
    """The committer of the ``triage serve`` app: ``submit(delivery) -> Verdict`` from any request
    thread (one socket per thread). An unreachable writer is a 503: the sender retries."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self._local = threading.local()

    def submit(self, delivery: Delivery) -> Verdict:
        head = json.dumps([delivery.vendor, delivery.form, delivery.invocation_id], separators=(",", ":"))
        frame = head.encode() + b"\n" + delivery.body
        try:
            sock = self._socket()
            _send_holding_gil(sock, _LEN.pack(len(frame)) + frame)
            reply = _read_frame(sock)
        except (OSError, ValueError, StoreUnavailable) as exc:
            self._drop()  # reconnect on the next request (the writer may have been restarted)
            log.error("store writer unreachable: %s", type(exc).__name__)
            return STORE_UNAVAILABLE
        return Verdict(*json.loads(reply))

    def _socket(self) -> socket.socket:
        sock = getattr(self._local, "sock", None)
        if sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(self.socket_path)
            except OSError as exc:
                sock.close()
                raise StoreUnavailable(f"store writer unreachable: {type(exc).__name__}") from None
            # A kernel-side receive timeout, not ``settimeout``: a Python-level timeout adds a poll()
            # before every send and recv, each one more GIL hand-off on the hot path (measured).
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", int(REPLY_TIMEOUT_S), 0))
            self._local.sock = sock
        return sock

    def _drop(self) -> None:
        sock = getattr(self._local, "sock", None)
        self._local.sock = None
        if sock is not None:
            sock.close()


def _load_send_without_gil_release():
    """libc ``send`` called through ``ctypes.PyDLL``, which keeps the GIL during the call.

    Why: every GIL release in a request thread lets the other request threads and waitress's loop
    in, and the hand-offs that follow cost far more than the call (measured on the 2-core box: one
    extra ``time.sleep(0)`` per request adds ~100 µs of server CPU to a bare route; sending the event
    frame this way raised webhook accept throughput by ~10 %). The frame is small and the send never
    blocks (``MSG_DONTWAIT``), so holding the GIL for it is cheaper than releasing it. Anything else
    (partial send, full buffer, an error, no POSIX libc) falls back to ``socket.sendall``.
    """
    if os.name != "posix" or not hasattr(socket, "MSG_DONTWAIT"):
        return None
    try:
        import ctypes

        send = ctypes.PyDLL(None).send  # the process's own symbols, libc's included
    except (OSError, AttributeError):
        return None
    send.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int]
    send.restype = ctypes.c_ssize_t
    return send


_libc_send = _load_send_without_gil_release()


def _send_holding_gil(sock: socket.socket, data: bytes) -> None:
    """``sock.sendall(data)``, without a GIL release when the kernel takes the frame at once."""
    sent = _libc_send(sock.fileno(), data, len(data), socket.MSG_DONTWAIT) if _libc_send else -1
    if sent == len(data):
        return
    sock.sendall(data[max(sent, 0):])  # the rest (or all of it), the ordinary way; raises on errors


def _read_frame(sock: socket.socket) -> bytes:
    """One length-prefixed frame from a blocking socket (``ValueError`` on EOF or a bad length)."""
    data = b""
    while len(data) < _LEN.size:
        chunk = sock.recv(4096)
        if not chunk:
            raise ValueError("connection closed")
        data += chunk
    (size,) = _LEN.unpack_from(data)
    if size > MAX_FRAME:
        raise ValueError("frame too large")
    while len(data) < _LEN.size + size:
        chunk = sock.recv(max(4096, _LEN.size + size - len(data)))
        if not chunk:
            raise ValueError("connection closed")
        data += chunk
    return data[_LEN.size:_LEN.size + size]


# --- the writer process ----------------------------------------------------------------------


def _writer_main(settings: Settings, socket_path: str, control, log_level: int) -> None:
    """Entry point of the spawned process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop (see module doc)
    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        loop = _WriterLoop(settings, socket_path, control)
    except Exception as exc:
        control.send(f"{type(exc).__name__}: {exc}")
        raise
    signal.signal(signal.SIGTERM, lambda *_: loop.stop())
    control.send("ready")
    loop.run()


class _WriterLoop:
    """Accept connections, read frames, commit each round's frames in one transaction, reply."""

    def __init__(self, settings: Settings, socket_path: str, control) -> None:
        from plugin.store import EventStore

        from .dispatcher import Dispatcher
        from .queue import make_queue

        self.settings = settings
        self.store = EventStore(settings.db_path, synchronous=settings.store_synchronous)
        self.db = self.store.writer()
        queue = make_queue(settings, store=self.store)
        self.dispatcher = Dispatcher(self.store, queue.enqueue_events).start()
        os.makedirs(os.path.dirname(socket_path), mode=0o700, exist_ok=True)  # gone if a writer exited
        if os.path.exists(socket_path):
            os.unlink(socket_path)  # a previous writer's socket (restart after a crash)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(socket_path)
        self.socket_path = socket_path
        self.listener.listen(128)
        self.listener.setblocking(False)
        self.control = control
        self.parent = multiprocessing.parent_process()
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, "listen")
        self.selector.register(control.fileno(), selectors.EVENT_READ, "control")
        if self.parent is not None:
            self.selector.register(self.parent.sentinel, selectors.EVENT_READ, "parent")
        self.buffers: dict[socket.socket, bytearray] = {}
        self.running = True

    def stop(self) -> None:
        self.running = False  # seen within one select timeout

    def run(self) -> None:
        try:
            while self.running:
                batch: list[tuple[socket.socket, Delivery]] = []
                for key, _ in self.selector.select(timeout=SELECT_TIMEOUT_S):
                    if key.data == "listen":
                        self._accept()
                    elif key.data in ("control", "parent"):
                        self.running = False  # stop order or parent gone: finish this round, exit
                    else:
                        self._read(key.fileobj, batch)
                if batch:
                    self._commit(batch)
        finally:
            self.dispatcher.stop()
            self.listener.close()
            # after a kill -9 of the parent nobody else removes the socket and its private folder
            shutil.rmtree(os.path.dirname(self.socket_path), ignore_errors=True)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except BlockingIOError:
                return
            conn.setblocking(False)
            self.buffers[conn] = bytearray()
            self.selector.register(conn, selectors.EVENT_READ, "conn")

    def _read(self, conn: socket.socket, batch: list) -> None:
        try:
            chunk = conn.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._close(conn)
            return
        buf = self.buffers[conn]
        buf += chunk
        while len(buf) >= _LEN.size:
            (size,) = _LEN.unpack_from(buf)
            if size > MAX_FRAME:
                log.error("dropping a connection that sent an oversized frame")
                self._close(conn)
                return
            if len(buf) < _LEN.size + size:
                break
            frame = bytes(buf[_LEN.size:_LEN.size + size])
            head, newline, body = frame.partition(b"\n")
            try:
                vendor, form, invocation_id = json.loads(head)
                if not newline or vendor not in ("zendesk", "freshdesk"):
                    raise ValueError(vendor)
            except (ValueError, TypeError):
                log.error("dropping a connection that sent a malformed frame")
                self._close(conn)
                return
            batch.append((conn, Delivery(vendor, body, bool(form), invocation_id)))
            del buf[:_LEN.size + size]

    def _commit(self, batch: list[tuple[socket.socket, Delivery]]) -> None:
        """Prepare every delivery of this round, store the events among them in one transaction,
        then answer each (a rejection or an ignored update is answered without a row)."""
        verdicts: list[Verdict | None] = []
        items: list[dict[str, Any]] = []
        for _, delivery in batch:
            try:
                prepared = prepare(self.settings, self.store, delivery)
            except Exception as exc:  # a bug must cost one answer, not the writer (and the batch)
                log.exception("cannot prepare a %s delivery: %s", delivery.vendor, type(exc).__name__)
                prepared = rejection(500, "internal error")
            if isinstance(prepared, Verdict):
                verdicts.append(prepared)
            else:
                verdicts.append(None)
                items.append(prepared)
        created = False
        if items:
            try:
                results = self.store.add_events(items, conn=self.db)
                answers = [stored(event_id, was_created) for event_id, was_created in results]
                created = any(was_created for _, was_created in results)
            except Exception as exc:  # every event of this batch answers 503 and is retried by its sender
                log.error("commit failed: %s", type(exc).__name__)
                answers = [STORE_UNAVAILABLE] * len(items)
            in_order = iter(answers)
            verdicts = [v if v is not None else next(in_order) for v in verdicts]
        for (conn, _), verdict in zip(batch, verdicts):
            frame = json.dumps([verdict.status, verdict.body, verdict.outcome, verdict.reason]).encode()
            try:
                conn.sendall(_LEN.pack(len(frame)) + frame)  # tiny, and the peer is waiting for it
            except OSError:
                self._close(conn)  # the request thread is gone; its sender retries, dedup keeps one
        if created:
            self.dispatcher.wake()

    def _close(self, conn: socket.socket) -> None:
        if conn in self.buffers:
            del self.buffers[conn]
            self.selector.unregister(conn)
        conn.close()
