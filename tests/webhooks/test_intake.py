"""The one intake path (waitress → verify → parse → group commit → 2xx), through real sockets:
exactly-once storage under concurrent requests, 503 when the store fails, dedup keys that only
come from authenticated content and never merge two updates, field-name variants, /metrics."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest
import requests

from plugin.store import EventState, EventStore
from webhooks.intake import Delivery, Verdict, prepare
from webhooks.payloads import DEDUP_WINDOW_S, parse_freshdesk, parse_zendesk

from .conftest import FD_SECRET, make_settings, now_ts, post_freshdesk, post_zendesk, wait_for


def test_concurrent_requests_are_all_stored_exactly_once(service_factory, database_url):
    """8 threads, overlapping tickets (redeliveries inside and across batches): one row per
    distinct body, and every duplicate answer names the stored event."""
    svc = service_factory(consume=False)
    results: list[tuple[int, str]] = []
    lock = threading.Lock()

    def send(start: int) -> None:
        for n in range(start, start + 40):
            r = post_zendesk(svc.base_url, {"ticket_id": str(n % 100), "subject": "Refund", "tags": "vip"})
            with lock:
                results.append((r.status_code, r.json()["event_id"]))

    threads = [threading.Thread(target=send, args=(t * 12,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 320 and {code for code, _ in results} <= {200, 202}
    created = [event_id for code, event_id in results if code == 202]
    assert len(created) == len(set(created)) == len({event_id for _, event_id in results}) == 100
    assert svc.store.counts_by_state() == {"received": 100}


def test_a_failing_store_answers_503_and_stores_nothing(service_factory, database_url, monkeypatch):
    svc = service_factory(consume=False)

    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")
    with monkeypatch.context() as m:
        m.setattr(svc.store, "add_events", broken)
        r = post_zendesk(svc.base_url, {"ticket_id": "5", "subject": "Refund"})
        assert r.status_code == 503 and r.json() == {"error": "event store unavailable, retry later"}
    assert svc.store.counts_by_state() == {}
    assert post_zendesk(svc.base_url, {"ticket_id": "5", "subject": "Refund"}).status_code == 202  # the retry


def test_signed_body_replayed_with_fresh_header_ids_is_stored_once(service_factory, database_url):
    """The invocation id is not signed: a captured body replayed inside the 300 s window with new
    header ids is the same delivery."""
    svc = service_factory(consume=False)
    raw = json.dumps({"ticket_id": "77", "subject": "Refund", "description": "charged twice"}).encode()
    ts = now_ts()  # signed with the body: a replayer cannot change it
    answers = [post_zendesk(svc.base_url, raw, ts=ts, headers={
        "X-Zendesk-Webhook-Invocation-Id": f"inv-{n}", "X-Zendesk-Webhook-Id": f"hook-{n}"}) for n in range(3)]
    assert [a.status_code for a in answers] == [202, 200, 200]
    assert len({a.json()["event_id"] for a in answers}) == 1
    assert svc.store.counts_by_state() == {"received": 1}


def test_freshdesk_replay_is_stored_once(service_factory, database_url):
    """Freshdesk's secret is static, so a delivery can be replayed at any time, re-encoded too
    (JSON spacing, key order, form fields): the same content is one event."""
    svc = service_factory(consume=False)
    fields = {"ticket_id": "31", "ticket_subject": "Refund please", "triggered_event": "{ticket_action:created}"}
    first = post_freshdesk(svc.base_url, {"freshdesk_webhook": fields})
    assert first.status_code == 202
    assert post_freshdesk(svc.base_url, {"freshdesk_webhook": fields}).status_code == 200  # byte-identical
    reordered = json.dumps({"freshdesk_webhook": dict(reversed(list(fields.items())))}, indent=2)
    again = requests.post(svc.base_url + "/webhooks/freshdesk", data=reordered, timeout=10,
                          headers={"X-Triage-Secret": FD_SECRET, "Content-Type": "application/json"})
    assert again.status_code == 200 and again.json()["event_id"] == first.json()["event_id"]
    assert svc.store.counts_by_state() == {"received": 1}
    other = post_freshdesk(svc.base_url, {"freshdesk_webhook": {**fields, "ticket_subject": "Refund, now"}})
    assert other.status_code == 202  # different content: a different delivery


def test_content_hash_key_holds_for_the_window_then_lets_the_same_content_in(tmp_path, database_url):
    """A content-hash key is a window, not forever: the same body DEDUP_WINDOW_S later may be a
    new update (and inside the window, a replay across the window boundary is still caught)."""
    settings = make_settings(tmp_path, database_url=database_url)
    store = EventStore(settings.database)
    delivery = Delivery("freshdesk", json.dumps({"ticket_id": "8", "ticket_subject": "Late parcel"}).encode())

    def deliver(now: float) -> int:
        item = prepare(settings, store, delivery, now=now)
        if isinstance(item, Verdict):
            return item.status
        ((_, created),) = store.add_events([item])
        return 202 if created else 200

    t0 = DEDUP_WINDOW_S * 1000 + DEDUP_WINDOW_S * 0.5
    assert deliver(t0) == 202
    assert deliver(t0 + 60) == 200
    assert deliver(t0 + DEDUP_WINDOW_S * 0.9) == 200  # next window: found in the previous one
    assert deliver(t0 + DEDUP_WINDOW_S * 2.1) == 202  # two windows on: a new event
    assert len(list(store.events())) == 2


def test_calendar_date_updated_at_never_merges_two_updates(service_factory, database_url):
    """``{{ticket.updated_at}}`` renders "February 3, 2025": every update that day shares it."""
    svc = service_factory(consume=False)
    day = "February 3, 2025"
    open_ = {"ticket_id": "12", "status": "Open", "updated_at": day, "description": "parcel late"}
    pending = {**open_, "status": "Pending"}
    assert post_zendesk(svc.base_url, open_).status_code == 202
    assert post_zendesk(svc.base_url, pending).status_code == 202  # a different update, same day
    assert post_zendesk(svc.base_url, pending).status_code == 200  # its redelivery
    fd = {"ticket_id": "13", "ticket_status": "Open", "updated_at": day}
    assert post_freshdesk(svc.base_url, fd).status_code == 202
    assert post_freshdesk(svc.base_url, {**fd, "ticket_status": "Resolved"}).status_code == 202
    assert svc.store.counts_by_state() == {"received": 4}
    # to the second, updated_at is a key: a redelivery with other rendered text is the same update
    precise = {"ticket_id": "14", "updated_at": "2025-02-03T10:15:07Z", "subject": "a"}
    assert post_zendesk(svc.base_url, precise).status_code == 202
    assert post_zendesk(svc.base_url, {**precise, "subject": "b"}).status_code == 200


@pytest.mark.parametrize("parse", [parse_zendesk, parse_freshdesk])
def test_ticket_prefixed_and_camel_case_field_variants(parse):
    ev = parse({"ticketId": "41", "ticket_title": "Refund", "ticket_description": "charged twice",
                "ticket_status": "Open", "ticket_tags": "vip billing"})
    assert (ev.ticket_id, ev.subject, ev.text, ev.status, ev.tags) == (
        "41", "Refund", "charged twice", "open", ["vip", "billing"])
    assert parse({"ticketId": 42}).ticket_id == "42"


def test_trigger_body_without_text_is_classified_from_the_fetched_ticket(zd, service_factory, database_url):
    """``ticketId`` only: the job fetches the ticket's text through the API and tags it."""
    svc = service_factory(zd)
    t = zd.create_ticket("Refund", "I was charged twice and want my money back", ["vip"])
    assert post_zendesk(svc.base_url, {"ticketId": str(t["id"]), "ticket_title": "{{ticket.title}}"}).status_code == 202
    assert wait_for(lambda: "triage_classified" in zd.ticket(t["id"])["tags"], 30)
    # the event is finished just after the PUT (written first, then recorded): wait for that too
    assert wait_for(lambda: all(e.state.finished for e in svc.store.events()), 10)
    (event,) = svc.store.events()
    assert event.payload["has_text"] is False and event.label is not None


def test_concurrent_first_metrics_scrapes_register_the_store_gauges_once(service_factory, monkeypatch):
    import time

    import webhooks.ops as ops

    svc = service_factory(consume=False)
    real = ops.get_store

    def slow_store():
        time.sleep(0.05)  # widens the first-scrape window so the scrapes overlap in it
        return real()
    monkeypatch.setattr(ops, "get_store", slow_store)
    barrier = threading.Barrier(6)
    answers: list[requests.Response] = []

    def scrape() -> None:
        barrier.wait()
        answers.append(requests.get(svc.base_url + "/metrics", timeout=30))

    threads = [threading.Thread(target=scrape) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status_code for a in answers] == [200] * 6
    for a in answers:
        assert a.text.count("# TYPE triage_events gauge") == 1
        assert a.text.count("# TYPE triage_window_classified gauge") == 1


def test_the_metrics_window_scan_uses_an_index(tmp_path):
    store = EventStore(tmp_path / "s.sqlite3")
    with sqlite3.connect(store.path) as db:
        plan = db.execute("EXPLAIN QUERY PLAN SELECT * FROM events WHERE created_at>=? ORDER BY created_at",
                          (0,)).fetchall()
    assert any("events_created" in row[-1] for row in plan), plan


def test_claim_before_next_attempt_at_is_refused(tmp_path, store_target):
    """A duplicate queue entry of a parked retry must wait for Retry-After, not retry now."""
    from webhooks.jobs import JobContext, run_event

    now = [1000.0]
    store = EventStore(store_target, clock=lambda: now[0])
    event_id, _ = store.add_event("zendesk", "1", "k")
    assert store.claim(event_id) is not None
    store.schedule_retry(event_id, delay_s=30, error="HTTP 429")
    now[0] += 29
    assert store.claim(event_id) is None
    ctx = JobContext(make_settings(tmp_path), store, classify=None, clients={}, labels=[])
    assert run_event(ctx, event_id) > 0 and store.get(event_id).state is EventState.RETRY
    assert store.get(event_id).attempts == 1  # the early entry did not count as an attempt
    now[0] += 2
    assert store.claim(event_id) is not None and store.get(event_id).attempts == 2
