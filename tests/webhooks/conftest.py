"""Fixtures for the webhook service: simulators and the service on ephemeral loopback ports."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pytest
import requests

from plugin.config import Settings, load_settings
from simulators.freshdesk import FreshdeskSimulator
from simulators.zendesk import ZendeskSimulator, sign
from webhooks.service import EmbeddedService

ZD_SECRET = "test-signing-secret-0123456789"
FD_SECRET = "fd-shared-secret-abcdef"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def zd():
    with ZendeskSimulator() as sim:
        yield sim


@pytest.fixture
def fd():
    with FreshdeskSimulator(custom_field_choices={"cf_ai_category": ["billing", "refund", "delivery", "order",
                                                                     "account", "feedback", "technical", "other"]}) as sim:
        yield sim


def make_settings(tmp_path: Path, zd: ZendeskSimulator | None = None, fd: FreshdeskSimulator | None = None,
                  **overrides) -> Settings:
    values = {"instance_dir": tmp_path / "instance", "classifier": "fallback",
              "zendesk_signing_secret": ZD_SECRET, "freshdesk_webhook_secret": FD_SECRET}
    if zd is not None:
        values.update(zendesk_base_url=zd.base_url, zendesk_email=zd.email, zendesk_api_token=zd.api_token)
    if fd is not None:
        values.update(freshdesk_base_url=fd.base_url, freshdesk_api_key=fd.api_key)
    values.update(overrides)
    return load_settings(values, env={})


@pytest.fixture
def service_factory(tmp_path, request):
    """Start ``EmbeddedService``s; a test that also asks for ``database_url`` runs on each store backend."""
    started: list[EmbeddedService] = []
    url = request.getfixturevalue("database_url") if "database_url" in request.fixturenames else None

    def start(zd=None, fd=None, *, consume: bool = True, **overrides) -> EmbeddedService:
        if url is not None:
            overrides.setdefault("database_url", url)
        svc = EmbeddedService(make_settings(tmp_path, zd, fd, **overrides)).start(consume=consume)
        started.append(svc)
        return svc

    yield start
    for svc in started:
        svc.stop()


@pytest.fixture
def redis_url(tmp_path):
    """A private redis-server on a unix socket in ``tmp_path`` (no TCP listener: no clashes)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not on PATH (CI installs it: apt-get install redis-server)")
    sock = tmp_path / "redis.sock"
    proc = subprocess.Popen([binary, "--port", "0", "--unixsocket", str(sock), "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_for(sock.exists, 10), "redis-server did not start"
    yield f"unix://{sock}"
    proc.terminate()
    proc.wait(10)


def now_ts() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def post_zendesk(url: str, body: dict | bytes, *, secret: str = ZD_SECRET, ts: str | None = None,
                 headers: dict | None = None) -> requests.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    ts = ts or now_ts()
    h = {"Content-Type": "application/json", "X-Zendesk-Webhook-Signature": sign(secret, ts, raw),
         "X-Zendesk-Webhook-Signature-Timestamp": ts}
    h.update(headers or {})
    return requests.post(url + "/webhooks/zendesk", data=raw, headers=h, timeout=10)


def post_freshdesk(url: str, body: dict, *, secret: str | None = FD_SECRET, header: str = "X-Triage-Secret",
                   auth: tuple[str, str] | None = None) -> requests.Response:
    h = {header: secret} if secret is not None and auth is None else {}
    return requests.post(url + "/webhooks/freshdesk", json=body, headers=h, auth=auth, timeout=10)


def wait_for(predicate: Callable[[], bool], timeout_s: float = 20.0, step_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step_s)
    return predicate()


def service_env(tmp: Path, zd=None, fd=None, *, database_url: str | None = None, **extra: str) -> dict[str, str]:
    """Environment for a ``triage serve``/``worker`` child: only TRIAGE_* values we choose
    (``database_url``: the PostgreSQL store, else the SQLite file in the instance dir)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRIAGE_", "OPENAI_"))}
    env.update({"TRIAGE_INSTANCE_DIR": str(tmp / "instance"), "TRIAGE_CLASSIFIER": "fallback",
                "TRIAGE_ZENDESK_SIGNING_SECRET": ZD_SECRET, "TRIAGE_FRESHDESK_WEBHOOK_SECRET": FD_SECRET,
                "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"})
    if zd is not None:
        env.update({"TRIAGE_ZENDESK_BASE_URL": zd.base_url, "TRIAGE_ZENDESK_EMAIL": zd.email,
                    "TRIAGE_ZENDESK_API_TOKEN": zd.api_token})
    if fd is not None:
        env.update({"TRIAGE_FRESHDESK_BASE_URL": fd.base_url, "TRIAGE_FRESHDESK_API_KEY": fd.api_key})
    if database_url is not None:
        env["TRIAGE_DATABASE_URL"] = database_url
    env.update(extra)
    return env


class TriageProcess:
    """``triage serve`` (or ``worker``) as a child process; output drained and kept for inspection."""

    def __init__(self, tmp: Path, env: dict[str, str], command: str = "serve", *args: str,
                 verbose: bool = False) -> None:
        argv = [sys.executable, "-m", "plugin", *(["-v"] if verbose else []), command, *args]
        if command == "serve":
            argv += ["--port", "0"]
        self.proc = subprocess.Popen(argv, cwd=tmp, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, errors="replace")
        self.lines: list[str] = []
        self.url: str | None = None
        self.ready = False
        threading.Thread(target=self._drain, daemon=True).start()
        ok = wait_for(lambda: self.ready or self.proc.poll() is not None, 90, 0.05)
        assert ok and self.proc.poll() is None, f"{command} did not start:\n" + "".join(self.lines[-30:])

    def _drain(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)
            m = re.search(r"listening on (http://\S+)", line)
            if m:
                self.url = m.group(1)
                self.ready = True
            elif "triage worker:" in line:
                self.ready = True

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def kill9(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(15)

    def terminate(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill9()
