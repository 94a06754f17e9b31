"""Resource bounds: the body limit (413 with a JSON reason, on the production server), the backlog
is durable and bounded by the store (not memory), and SIGTERM finishes or re-queues in-flight jobs."""

from __future__ import annotations

import json
import threading

import requests

from plugin.apikeys import KeyStore
from plugin.config import load_settings
from plugin.store import EventState, EventStore
from webhooks.service import waitress_body_cap

from loadgen import Ledger, send_load, tagged
from reliability_support import FD_SECRET, ZD_SECRET, post_zendesk, service_env, wait_for

LIMIT = 4096


def test_body_limit_is_a_json_413_on_the_production_server(tmp_path, processes):
    _, key = KeyStore.for_instance(tmp_path / "instance").create("limits")
    svc = processes(tmp_path, service_env(tmp_path, TRIAGE_MAX_BODY_BYTES=str(LIMIT)))
    big = json.dumps({"ticket_id": "1", "description": "x" * (LIMIT * 2)}).encode()
    for path in ("/webhooks/zendesk", "/webhooks/freshdesk", "/v1/classify"):
        for data in (big, iter([big[i:i + 1000] for i in range(0, len(big), 1000)])):  # sized, then chunked
            resp = requests.post(svc.url + path, data=data, timeout=30,
                                 headers={"Content-Type": "application/json", "X-Triage-Secret": FD_SECRET,
                                          "Authorization": f"Bearer {key}"})
            assert resp.status_code == 413, (path, resp.status_code, resp.text[:200])
            assert resp.headers["Content-Type"].startswith("application/json"), (path, resp.text[:200])
            assert resp.json()["error"]
    # just under the limit is fine
    small = json.dumps({"ticket_id": "1", "description": "x" * (LIMIT - 100)}).encode()
    assert post_zendesk(svc.url, small).status_code == 202
    # far beyond waitress's own hard cap: refused before the app, memory stays bounded
    huge = b"x" * (waitress_body_cap(load_settings({"max_body_bytes": LIMIT}, env={})) + 1)
    try:
        assert requests.post(svc.url + "/webhooks/zendesk", data=huge, timeout=30).status_code == 413
    except requests.ConnectionError:
        pass  # waitress may close the connection while we are still sending: also a refusal
    assert svc.terminate() == 0


def test_backlog_is_durable_deduplicated_and_drains(service_factory, zd):
    """With no consumer, accepted events pile up on disk (store + queue), never in memory;
    redeliveries add nothing; a consumer that starts later drains everything."""
    zd.rate_limit_per_minute = 10**6
    svc = service_factory(zd, consume=False)
    tickets = [zd.create_ticket("Help", "my parcel is late", [])["id"] for _ in range(120)]
    for tid in tickets:
        assert post_zendesk(svc.base_url, {"ticket_id": str(tid), "updated_at": "2026-01-01T00:00:00Z"}).status_code == 202
    for tid in tickets[:40]:  # the vendor retries: deduplicated, the backlog does not grow
        assert post_zendesk(svc.base_url, {"ticket_id": str(tid), "updated_at": "2026-01-01T00:00:00Z"}).status_code == 200
    assert svc.store.counts_by_state() == {"received": 120}
    assert len(svc.queue.huey) >= 120  # the huey queue holds ids only, on disk
    svc.queue.sweep(sole_consumer=True)
    svc._consumer = svc.queue.consumer(2, embedded=True)
    svc._consumer.start()
    assert wait_for(lambda: all(tagged(zd, tid) for tid in tickets), 90)
    assert wait_for(lambda: set(svc.store.counts_by_state()) <= {"written_back", "needs_review"}, 30)
    assert all(zd.writes[str(t)] == 1 for t in tickets)  # duplicates in the queue were no-ops


def test_sigterm_finishes_or_requeues_in_flight_jobs(tmp_path, zd, fd, processes):
    for sim in (zd, fd):
        sim.rate_limit_per_minute = 10**6
        sim.latency_s = 0.15  # a job takes ~0.5 s, so SIGTERM lands while some are running
    env = service_env(tmp_path, zd, fd)
    svc = processes(tmp_path, env)
    ledger, stop = Ledger(), threading.Event()
    send_load(svc.url, {"zendesk": zd, "freshdesk": fd}, ledger, stop, limit=30, zd_secret=ZD_SECRET,
              fd_secret=FD_SECRET, deadline_s=60)
    store = EventStore(tmp_path / "instance" / "triage.sqlite3")
    assert wait_for(lambda: any(e.state == EventState.PROCESSING for e in store.events()), 20)
    assert svc.terminate(60) == 0, svc.output[-2000:]  # graceful: exit code 0
    states = [e.state for e in store.events()]
    assert EventState.PROCESSING not in states, states  # nothing abandoned mid-job
    assert any(s.finished for s in states)
    for sim in (zd, fd):
        sim.latency_s = 0.0
    svc = processes(tmp_path, env)  # the rest is picked up by the next start
    assert wait_for(lambda: all(tagged({"zendesk": zd, "freshdesk": fd}[v], t) for v, t in ledger.accepted), 60)
    assert wait_for(lambda: all(e.state.finished for e in store.events()), 30)
    assert svc.terminate() == 0
    for vendor, tid in ledger.accepted:
        assert {"zendesk": zd, "freshdesk": fd}[vendor].writes[str(tid)] == 1
