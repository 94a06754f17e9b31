"""Helpers shared by the reliability tests and bench/: the webhook fixtures' helpers, a subprocess
service runner (``triage serve`` / ``triage worker``), the child environment, fuzz-case counters."""

from __future__ import annotations

import collections
import importlib.util
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The webhook area's fixtures and helpers (zd, fd, service_factory, post_zendesk, ...), reused as is.
wh = _load("_reliability_webhook_fixtures", REPO / "tests" / "webhooks" / "conftest.py")
ZD_SECRET, FD_SECRET = wh.ZD_SECRET, wh.FD_SECRET
make_settings, post_zendesk, post_freshdesk, wait_for, now_ts = (
    wh.make_settings, wh.post_zendesk, wh.post_freshdesk, wh.wait_for, wh.now_ts)
FD_CHOICES = ["billing", "refund", "delivery", "order", "account", "feedback", "contact", "technical", "other"]

# fuzz/auth case counters: endpoint -> {"cases": n, "5xx": n}
CASES: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)


def service_env(tmp: Path, zd=None, fd=None, **extra: str) -> dict[str, str]:
    """Environment for a ``triage serve``/``worker`` child: only TRIAGE_* values we choose."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRIAGE_", "OPENAI_"))}
    env.update({"TRIAGE_INSTANCE_DIR": str(tmp / "instance"), "TRIAGE_CLASSIFIER": "fallback",
                "TRIAGE_ZENDESK_SIGNING_SECRET": ZD_SECRET, "TRIAGE_FRESHDESK_WEBHOOK_SECRET": FD_SECRET,
                "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"})
    if zd is not None:
        env.update({"TRIAGE_ZENDESK_BASE_URL": zd.base_url, "TRIAGE_ZENDESK_EMAIL": zd.email,
                    "TRIAGE_ZENDESK_API_TOKEN": zd.api_token})
    if fd is not None:
        env.update({"TRIAGE_FRESHDESK_BASE_URL": fd.base_url, "TRIAGE_FRESHDESK_API_KEY": fd.api_key})
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
