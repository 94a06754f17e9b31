"""Fixtures for the reliability suite: the webhook area's fixtures reused, a subprocess service runner.

Every server binds 127.0.0.1 on an ephemeral port; every load loop is bounded in count and time.
The fuzz tests count their cases in ``reliability_support.CASES``, printed at the end of the run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # reliability_support, loadgen (shared with bench/)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))  # pii_corpus (core area's PII generator)

import reliability_support as rs  # noqa: E402

zd, fd, service_factory, redis_url = rs.wh.zd, rs.wh.fd, rs.wh.service_factory, rs.wh.redis_url


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001 - pytest hook
    if rs.CASES:
        terminalreporter.section("reliability fuzz cases")
        for endpoint, c in sorted(rs.CASES.items()):
            terminalreporter.write_line(f"{endpoint}: {c['cases']} cases, {c['5xx']} 5xx")


@pytest.fixture
def processes():
    """Start ``TriageProcess`` children through this; any left running are killed at teardown."""
    started: list[rs.TriageProcess] = []

    def start(*args, **kwargs) -> rs.TriageProcess:
        p = rs.TriageProcess(*args, **kwargs)
        started.append(p)
        return p

    yield start
    for p in started:
        p.close()
