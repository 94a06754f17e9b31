"""What both helpdesk simulators share: a threaded WSGI server, faults, rate limits, write counters,
and outbound webhook delivery with retries.

Runs on a real socket (port 0 = ephemeral) so tests exercise the same HTTP path as production.
"""

from __future__ import annotations

import collections
import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

import requests
from flask import Flask, Response
from werkzeug.serving import WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # tests and the demo print their own lines
        pass


@dataclass
class Fault:
    status: int
    retry_after: float | None = None
    body: dict[str, Any] = field(default_factory=dict)
    path: str | None = None  # only requests whose path contains this (None: any path)


@dataclass
class Delivery:
    """One outbound webhook attempt, for tests to inspect."""

    url: str
    attempt: int
    status: int | None
    error: str | None = None


class HelpdeskSimulator:
    """Base class: subclasses build ``self.app`` routes and call ``deliver`` on ticket events."""

    vendor = "helpdesk"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, rate_limit_per_minute: int = 700) -> None:
        self.host, self._port = host, port
        self.lock = threading.RLock()
        self.app = Flask(f"sim_{self.vendor}")
        self.faults: collections.deque[tuple[str, Fault]] = collections.deque()
        self.writes: collections.Counter[str] = collections.Counter()  # successful API writes per ticket id
        self.last_write_at: dict[str, float] = {}  # time.monotonic() of each ticket's latest write
        self.requests_seen: list[tuple[str, str]] = []
        self.deliveries: list[Delivery] = []
        self.rate_limit_per_minute = rate_limit_per_minute
        self._window: collections.deque[float] = collections.deque()
        self._outbox: queue.Queue = queue.Queue()
        self._server = None
        self._threads: list[threading.Thread] = []
        self.delivery_timeout_s = 12.0
        self.latency_s = 0.0  # added to every API request (widens race windows in crash tests)
        self.write_reply_latency_s = 0.0  # a write is applied, then its reply is delayed this long
        self.app.after_request(self._delay_write_reply)

    # --- lifecycle ----------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._server.server_port if self._server else self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "HelpdeskSimulator":
        self._server = make_server(self.host, self._port, self.app, threaded=True, request_handler=_QuietHandler)
        for target in (self._server.serve_forever, self._delivery_loop):
            t = threading.Thread(target=target, daemon=True, name=f"sim-{self.vendor}")
            t.start()
            self._threads.append(t)
        return self

    def serve_forever(self) -> None:
        if self._server is None:
            self.start()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self) -> None:
        self._outbox.put(None)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- faults and limits --------------------------------------------------------------------
    def fail_next(self, method: str, status: int, *, retry_after: float | None = None, count: int = 1,
                  body: dict[str, Any] | None = None, path: str | None = None) -> None:
        """The next ``count`` API requests with this method (``"*"`` = any), and a path containing
        ``path`` if given, answer ``status``."""
        with self.lock:
            for _ in range(count):
                self.faults.append((method.upper(), Fault(status, retry_after, body or {}, path)))

    def _delay_write_reply(self, response: Response) -> Response:
        from flask import request

        if self.write_reply_latency_s and request.method in ("PUT", "POST", "DELETE"):
            time.sleep(self.write_reply_latency_s)  # the caller may die before it hears "done"
        return response

    def take_fault(self, method: str, path: str = "") -> Fault | None:
        if self.latency_s:
            time.sleep(self.latency_s)
        with self.lock:
            for i, (m, fault) in enumerate(self.faults):
                if m in (method, "*") and (fault.path is None or fault.path in path):
                    del self.faults[i]
                    return fault
        return None

    def rate_limited(self) -> float | None:
        """Account limit per rolling minute; returns Retry-After seconds when exceeded."""
        now = time.monotonic()
        with self.lock:
            while self._window and self._window[0] <= now - 60:
                self._window.popleft()
            if len(self._window) >= self.rate_limit_per_minute:
                return max(1.0, 60 - (now - self._window[0]))
            self._window.append(now)
            return None

    def remaining(self) -> int:
        with self.lock:
            return max(0, self.rate_limit_per_minute - len(self._window))

    @staticmethod
    def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
        data = b"" if body is None else json.dumps(body).encode()
        resp = Response(data, status=status, content_type="application/json; charset=utf-8")
        for k, v in (headers or {}).items():
            resp.headers[k] = v
        return resp

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The vendor's usual response headers (API version, rate-limit counters) plus ``extra``."""
        return dict(extra or {})

    def _reply(self, status: int, body: Any, extra: dict[str, str] | None = None) -> Response:
        """A JSON answer carrying the vendor's usual headers."""
        return self.json_response(status, body, self._headers(extra))

    # --- webhook delivery ---------------------------------------------------------------------
    def deliver(self, url: str, body: bytes, headers_for: Callable[[bytes, str], dict[str, str]],
                retry_delays: list[float], retry_on: Callable[[int | None, dict], bool]) -> None:
        """Queue a webhook; sent by a background thread so the API call that fired it returns first."""
        self._outbox.put((url, body, headers_for, retry_delays, retry_on))

    def _delivery_loop(self) -> None:
        session = requests.Session()
        while True:
            item = self._outbox.get()
            if item is None:
                return
            threading.Thread(target=self._send, args=(session, *item), daemon=True).start()

    def _send(self, session, url, body, headers_for, retry_delays, retry_on) -> None:
        invocation = uuid.uuid4().hex  # the same id on retries [U in the contract]
        for attempt in range(len(retry_delays) + 1):
            status, headers, error = None, {}, None
            try:
                resp = session.post(url, data=body, headers=headers_for(body, invocation),
                                    timeout=self.delivery_timeout_s)
                status, headers = resp.status_code, dict(resp.headers)
            except requests.RequestException as exc:
                error = type(exc).__name__
            with self.lock:
                self.deliveries.append(Delivery(url, attempt + 1, status, error))
            if status is not None and status < 300:
                return
            if attempt >= len(retry_delays) or not retry_on(status, headers):
                return
            time.sleep(retry_delays[attempt])
