"""Several hosts: two receivers and two worker processes on one PostgreSQL store and one Redis
queue; kill -9 any of them at random under load, restart it; every 2xx is written exactly once.

Each process has an instance dir of its own (nothing shared but PostgreSQL and Redis, as on separate
machines). A killed worker's claimed events stay leased (``lease_s``, short here) until the
restarted process's recovery sweep re-checks them when the lease runs out; a killed receiver's
undispatched rows are re-enqueued by the sweeps of the restarted processes.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from plugin.store import EventStore

from reliability_support import FD_SECRET, ZD_SECRET, assert_exactly_once, kill_test_setup, service_env, wait_for
from loadgen import Ledger, send_load, tagged, verdict

EVENTS = int(os.environ.get("TRIAGE_RELIABILITY_MULTIHOST_EVENTS", "300"))
KILLS = 5
pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_two_receivers_two_workers_kill9_any_exactly_once(tmp_path, zd, fd, processes, postgres_url, redis_url):
    rng, sims = kill_test_setup("multihost", zd, fd)
    ledger = Ledger()

    def start(name: str):
        home = tmp_path / name
        home.mkdir(exist_ok=True)
        env = service_env(home, zd, fd, database_url=postgres_url, TRIAGE_QUEUE_BACKEND="redis",
                          TRIAGE_REDIS_URL=redis_url, TRIAGE_LEASE_S="4", TRIAGE_WORKERS="1" if name[0] == "r" else "2")
        return processes(home, env, "serve" if name[0] == "r" else "worker")

    procs = {name: start(name) for name in ("r1", "r2", "w1", "w2")}
    senders: dict[str, threading.Thread] = {}
    stop = threading.Event()

    def send(name: str) -> None:
        senders[name] = threading.Thread(target=send_load, args=(procs[name].url, sims, ledger, stop), kwargs={
            "limit": EVENTS, "zd_secret": ZD_SECRET, "fd_secret": FD_SECRET, "deadline_s": 180})
        senders[name].start()

    send("r1")
    send("r2")
    victims = []
    for k in range(KILLS):
        target = (k + 1) * EVENTS // (KILLS + 2) + rng.randint(0, EVENTS // (KILLS + 2))
        wait_for(lambda: len(ledger.sent) >= target, 90, 0.005)
        time.sleep(rng.uniform(0, 0.05))  # mid-request, mid-job or mid-write
        victim = rng.choice(sorted(procs))
        victims.append(victim)
        procs[victim].kill9()
        if victim in senders:
            senders[victim].join(30)  # its sender saw the connection drop
        procs[victim] = start(victim)
        if victim in senders:
            send(victim)
    for t in senders.values():
        t.join(180)
    print("killed", victims)
    assert wait_for(lambda: all(tagged(sims[v], tid) for v, tid in ledger.accepted), 120, 0.2), verdict(sims, ledger)
    store = EventStore(postgres_url)
    assert wait_for(lambda: all(e.state.finished for e in store.events()), 60, 0.2)
    for name, p in procs.items():
        assert p.terminate() == 0, (name, p.output[-2000:])
    assert_exactly_once("multihost", sims, ledger, EVENTS)
    assert {e.state.value for e in store.events()} <= {"written_back", "needs_review"}
    # a row beyond the 2xx ones only where the receiver died after its commit, before answering
    assert len(ledger.accepted) <= len(list(store.events())) <= len(ledger.accepted) + ledger.refused
