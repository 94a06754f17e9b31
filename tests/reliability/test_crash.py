"""kill -9 at random moments under mixed Zendesk + Freshdesk load; every 2xx is written exactly once.

Extends ``tests/webhooks/test_crash.py`` (Zendesk only, kills at fixed counts) with both vendors,
random kill moments (seeded; the seed is printed) and a ledger shared with ``bench/bench_crash.py``.
"""

from __future__ import annotations

import os
import threading
import time

from plugin.store import EventStore

from reliability_support import FD_SECRET, ZD_SECRET, assert_exactly_once, kill_test_setup, service_env, wait_for
from loadgen import Ledger, send_load, tagged, verdict

EVENTS = int(os.environ.get("TRIAGE_RELIABILITY_CRASH_EVENTS", "240"))
KILLS = 3


def test_random_kill9_mixed_vendors_exactly_once(tmp_path, zd, fd, processes, database_url):
    rng, sims = kill_test_setup("crash", zd, fd)
    env = service_env(tmp_path, zd, fd, database_url=database_url, TRIAGE_LEASE_S="5")
    ledger = Ledger()
    for round_ in range(KILLS):
        svc = processes(tmp_path, env)
        stop = threading.Event()
        sender = threading.Thread(target=send_load, args=(svc.url, sims, ledger, stop),
                                  kwargs={"limit": EVENTS, "zd_secret": ZD_SECRET, "fd_secret": FD_SECRET,
                                          "deadline_s": 120})
        sender.start()
        target = len(ledger.sent) + rng.randint(20, EVENTS // (KILLS + 1))
        wait_for(lambda: len(ledger.sent) >= target or not sender.is_alive(), 60, 0.005)
        time.sleep(rng.uniform(0, 0.05))  # a random moment: mid-request, mid-job or mid-write
        svc.kill9()
        stop.set()
        sender.join(30)
    svc = processes(tmp_path, env)  # final start: its recovery sweep re-enqueues everything unfinished
    stop = threading.Event()
    send_load(svc.url, sims, ledger, stop, limit=EVENTS, zd_secret=ZD_SECRET, fd_secret=FD_SECRET, deadline_s=120)
    assert wait_for(lambda: all(tagged(sims[v], tid) for v, tid in ledger.accepted), 120, 0.2), verdict(sims, ledger)
    store = EventStore(database_url or tmp_path / "instance" / "triage.sqlite3")
    assert wait_for(lambda: all(e.state.finished for e in store.events()), 60, 0.2)
    assert svc.terminate() == 0, svc.output[-2000:]
    assert_exactly_once("crash", sims, ledger, EVENTS)
    for vendor, tid in ledger.accepted:
        assert "vip" in sims[vendor].ticket(tid)["tags"]  # the ticket's own tag survived the write-back
    states = {e.state.value for e in store.events()}
    assert states <= {"written_back", "needs_review"}, states
