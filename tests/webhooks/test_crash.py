"""kill -9 mid-load, restart, and every accepted event is written back exactly once."""

from __future__ import annotations

import threading

import requests

from plugin.store import EventStore

from .conftest import TriageProcess, post_zendesk, service_env, wait_for

TEXTS = ["I was charged twice for my order, please refund me", "My parcel has not arrived yet",
         "I forgot my password and cannot log in", "How do I cancel my order?"]


def _send_until_error(url: str, zd, accepted: list[int], sent: list[int], stop: threading.Event) -> None:
    session = requests.Session()
    while not stop.is_set():
        t = zd.create_ticket("Help", TEXTS[len(sent) % len(TEXTS)], ["vip"])
        sent.append(t["id"])
        try:
            resp = post_zendesk(url, {"ticket_id": str(t["id"]), "subject": "Help", "tags": "vip"})
        except requests.RequestException:
            return
        if resp.status_code in (200, 202):
            accepted.append(t["id"])
    session.close()


def test_kill_minus_nine_mid_load_exactly_once(tmp_path, zd, database_url):
    zd.latency_s = 0.005  # every API call takes a little while, so kills land mid-job
    zd.write_reply_latency_s = 0.03  # ...and often after a PUT was applied but before its reply arrived
    accepted: list[int] = []
    sent: list[int] = []
    # a short lease: on PostgreSQL a killed worker's events wait for it (no other host's lease is released)
    env = service_env(tmp_path, zd, database_url=database_url, TRIAGE_LEASE_S="5")
    for target in (15, 35, 60):
        svc = TriageProcess(tmp_path, env)
        stop = threading.Event()
        sender = threading.Thread(target=_send_until_error, args=(svc.url, zd, accepted, sent, stop))
        sender.start()
        assert wait_for(lambda: len(accepted) >= target or not sender.is_alive(), 60)
        svc.kill9()  # no chance to finish anything
        stop.set()
        sender.join(30)
    svc = TriageProcess(tmp_path, env)  # the recovery sweep re-enqueues whatever was unfinished
    guard = "triage_classified"
    assert wait_for(lambda: all(guard in zd.ticket(tid)["tags"] for tid in accepted), 90), "accepted events lost"
    store = EventStore(database_url or tmp_path / "instance" / "triage.sqlite3")
    assert wait_for(lambda: all(e.state.finished for e in store.events()), 30)
    assert svc.terminate() == 0  # graceful stop on SIGTERM
    assert len(accepted) >= 60
    for tid in accepted:
        assert zd.writes[str(tid)] == 1, f"ticket {tid} written {zd.writes[str(tid)]} times"
    assert all(zd.writes[str(tid)] <= 1 for tid in sent)
    states = {e.state.value for e in store.events()}
    assert states <= {"written_back", "needs_review"}, states
