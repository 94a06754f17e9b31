"""Helpers shared by the reliability tests and bench/: the webhook fixtures' helpers, a subprocess
service runner (``triage serve`` / ``triage worker``), the child environment, fuzz-case counters."""

from __future__ import annotations

import collections
import importlib.util
import os
import random
import time
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
service_env, TriageProcess = wh.service_env, wh.TriageProcess
FD_CHOICES = ["billing", "refund", "delivery", "order", "account", "feedback", "contact", "technical", "other"]

# fuzz/auth case counters: endpoint -> {"cases": n, "5xx": n}
CASES: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)


def kill_test_setup(name: str, zd, fd) -> tuple[random.Random, dict]:
    """The kill -9 tests' start: a seeded RNG (``TRIAGE_RELIABILITY_SEED`` replays a run; the seed is
    printed) and the simulators by vendor, unthrottled and a little slow so kills land inside jobs."""
    seed = int(os.environ.get("TRIAGE_RELIABILITY_SEED", str(int(time.time()))))
    print(f"{name} seed {seed}")
    sims = {"zendesk": zd, "freshdesk": fd}
    for sim in sims.values():
        sim.rate_limit_per_minute = 1_000_000
        sim.latency_s = 0.003  # API calls take a moment, so kills land inside jobs
    return random.Random(seed), sims


def assert_exactly_once(name: str, sims: dict, ledger, events: int) -> dict:
    """The kill -9 tests' verdict: at least half the load accepted, nothing lost or duplicated,
    and every accepted ticket written exactly once. Returns (and prints) the figures."""
    from loadgen import verdict

    figures = verdict(sims, ledger)
    print(f"{name} figures", figures)
    assert figures["accepted"] >= events // 2, figures
    assert figures["lost"] == 0 and figures["duplicates"] == 0, figures
    for vendor, tid in ledger.accepted:
        assert sims[vendor].writes[str(tid)] == 1, (vendor, tid)
    return figures
