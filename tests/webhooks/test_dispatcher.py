"""The dispatcher: the request makes one durable write; new events reach the queue from a thread."""

from __future__ import annotations

import time

import pytest

from plugin.store import EventStore
from webhooks.dispatcher import Dispatcher

from .conftest import post_zendesk, wait_for


def test_accepted_events_reach_the_queue_without_request_time_enqueue(zd, service_factory, database_url):
    svc = service_factory(zd, consume=False)
    t0 = time.monotonic()
    for tid in range(1, 6):
        assert post_zendesk(svc.base_url, {"ticket_id": str(tid)}).status_code == 202
    assert wait_for(lambda: len(svc.queue.huey) >= 5, 5, 0.002)
    assert time.monotonic() - t0 < 2.0  # woken by the commit, not by a slow poll
    assert svc.store.counts_by_state() == {"received": 5}  # the row is not touched again


def test_enqueue_failure_keeps_the_ids_and_retries(store_target):
    store = EventStore(store_target)
    got: list[str] = []
    fail = [True]

    def enqueue_many(ids: list[str]) -> None:
        if fail[0]:
            fail[0] = False
            raise ConnectionError("redis down")
        got.extend(ids)

    d = Dispatcher(store, enqueue_many).start()
    try:
        new = [store.add_event("zendesk", str(i), f"k{i}")[0] for i in range(2, 5)]
        d.handoff(new)
        assert wait_for(lambda: got == new, 5, 0.01), got
        d.handoff([])  # a batch of duplicates created nothing: nothing new to enqueue
        time.sleep(0.2)
        assert got == new
    finally:
        d.stop()


@pytest.mark.postgres
def test_two_receivers_each_dispatch_exactly_their_own_commits(tmp_path, zd, service_factory, postgres_url):
    """Several receivers on one PostgreSQL store: each queues the rows it committed, once (no
    cursor over the shared table that could skip a late commit or queue another's rows)."""
    a, b = (service_factory(zd, consume=False, database_url=postgres_url, instance_dir=tmp_path / name)
            for name in ("a", "b"))
    for n in range(20):
        assert post_zendesk((a if n % 2 else b).base_url, {"ticket_id": str(100 + n)}).status_code == 202
    assert wait_for(lambda: len(a.queue.huey) == 10 and len(b.queue.huey) == 10, 5, 0.01)
    time.sleep(0.1)
    assert len(a.queue.huey) == len(b.queue.huey) == 10 and a.store.counts_by_state() == {"received": 20}


def test_event_stored_but_never_dispatched_is_recovered_once(tmp_path, zd, service_factory, database_url):
    """A kill between commit and enqueue: the row stays `received`; the next start's sweep queues it."""
    svc = service_factory(zd, consume=False)
    svc.dispatcher.stop()  # as if the process died right after the commit
    t = zd.create_ticket("Refund", "I was charged twice, refund please", ["vip"])
    assert post_zendesk(svc.base_url, {"ticket_id": str(t["id"])}).status_code == 202
    assert len(svc.queue.huey) == 0 and svc.store.counts_by_state() == {"received": 1}
    svc.stop()
    again = service_factory(zd)  # same instance dir: recovery sweep + consumers
    assert wait_for(lambda: "triage_classified" in zd.ticket(t["id"])["tags"], 30)
    assert wait_for(lambda: set(again.store.counts_by_state()) <= {"written_back", "needs_review"}, 10)
    assert zd.writes[str(t["id"])] == 1
