"""The Redis queue path, for real: redis-server on a private unix socket, a `triage worker` process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ZD_SECRET, post_zendesk, wait_for

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.redis


def test_receiver_plus_worker_process_over_redis(tmp_path, zd, service_factory, redis_url):
    svc = service_factory(zd, consume=False, queue_backend="redis", redis_url=redis_url)
    tickets = [zd.create_ticket("Refund", "I was charged twice, refund please", ["vip"]) for _ in range(3)]
    for t in tickets:
        assert post_zendesk(svc.base_url, {"ticket_id": str(t["id"])}).status_code == 202
    env = {**os.environ, "TRIAGE_INSTANCE_DIR": str(tmp_path / "instance"), "TRIAGE_CLASSIFIER": "fallback",
           "TRIAGE_QUEUE_BACKEND": "redis", "TRIAGE_REDIS_URL": redis_url,
           "TRIAGE_ZENDESK_BASE_URL": zd.base_url, "TRIAGE_ZENDESK_EMAIL": zd.email,
           "TRIAGE_ZENDESK_API_TOKEN": zd.api_token, "TRIAGE_ZENDESK_SIGNING_SECRET": ZD_SECRET,
           "PYTHONPATH": str(REPO)}
    worker = subprocess.Popen([sys.executable, "-m", "plugin", "worker"], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: all("triage_classified" in zd.ticket(t["id"])["tags"] for t in tickets), 60)
    finally:
        worker.terminate()
        assert worker.wait(30) == 0
    assert all(zd.writes[str(t["id"])] == 1 for t in tickets)
    assert set(svc.store.counts_by_state()) <= {"written_back", "needs_review"}
