"""Write-back through the simulators: tag merging, 409, 429 Retry-After, 5xx, dead-letter, loop guard."""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from plugin.helpdesk.freshdesk import FreshdeskClient
from plugin.helpdesk.tags import merge_tags, owned_tags, safe_tag, wanted_tags
from plugin.helpdesk.zendesk import ZendeskClient
from plugin.result import Decision
from plugin.store import EventState
from webhooks.jobs import JobContext, RetryPolicy, run_event

from .conftest import make_settings, post_zendesk, wait_for

LABELS = ["billing", "refund", "delivery", "other"]
OWNED = owned_tags(LABELS, prefix="triage_", needs_review_tag="triage_needs_review")
TAG = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_:-0123456789", min_size=1, max_size=12)


@given(st.lists(TAG, max_size=8), st.sampled_from(LABELS), st.sampled_from(list(Decision)))
def test_merge_never_loses_foreign_tags(current, label, decision):
    wanted = wanted_tags(label, decision, prefix="triage_", guard_tag="triage_classified",
                         needs_review_tag="triage_needs_review")
    merged = merge_tags(current, wanted, OWNED)
    assert {t for t in current if t not in OWNED} <= set(merged)
    assert set(wanted) <= set(merged) and len(merged) == len(set(merged))
    assert merge_tags(merged, wanted, OWNED) == merged  # idempotent


def test_merge_drops_only_stale_own_tags():
    merged = merge_tags(["vip", "triage_billing", "triage_custom", "triage_classified"],
                        ["triage_refund", "triage_classified"], OWNED)
    assert merged == ["vip", "triage_custom", "triage_classified", "triage_refund"]
    assert safe_tag("Billing & Payments!") == "billing_payments"


def _ctx(tmp_path, zd=None, fd=None, **overrides):
    from plugin.pipeline import Pipeline
    from plugin.store import EventStore

    settings = make_settings(tmp_path, zd, fd, **overrides)
    clock = _Clock()
    store = EventStore(settings.database, clock=clock)
    clients = {}
    if zd is not None:
        clients["zendesk"] = ZendeskClient.from_settings(settings)
    if fd is not None:
        clients["freshdesk"] = FreshdeskClient.from_settings(settings)
    pipeline = Pipeline.from_settings(settings)
    ctx = JobContext(settings, store, pipeline.classify, clients, list(pipeline.taxonomy.names),
                     RetryPolicy(max_attempts=settings.max_attempts))
    ctx.clock = clock  # the store's clock: tests move it past a retry's next_attempt_at
    return ctx


class _Clock:
    """``time.time()`` plus an offset the test advances."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


REFUND = "I was charged twice and I want a refund of my money for the order"


def test_zendesk_409_refetches_and_keeps_agent_tag(tmp_path, zd, database_url):
    ctx = _ctx(tmp_path, zd=zd, database_url=database_url)
    t = zd.create_ticket("Refund", REFUND, ["vip"])
    zd.inject_conflict(t["id"], agent_tag="agent_escalated")
    event_id, _ = ctx.store.add_event("zendesk", str(t["id"]), "k1")
    assert run_event(ctx, event_id) is None
    tags = zd.ticket(t["id"])["tags"]
    assert {"vip", "agent_escalated", "triage_classified"} <= set(tags)
    assert zd.writes[str(t["id"])] == 1  # the 409 wrote nothing, the retry wrote once
    assert ctx.store.get(event_id).state in (EventState.WRITTEN_BACK, EventState.NEEDS_REVIEW)


def test_zendesk_429_honours_retry_after_then_succeeds(tmp_path, zd, database_url):
    ctx = _ctx(tmp_path, zd=zd, database_url=database_url)
    t = zd.create_ticket("Refund", REFUND)
    zd.fail_next("PUT", 429, retry_after=7)
    event_id, _ = ctx.store.add_event("zendesk", str(t["id"]), "k2")
    assert run_event(ctx, event_id) == 7.0
    ev = ctx.store.get(event_id)
    assert ev.state is EventState.RETRY and "429" in ev.last_error and ev.label is not None
    ctx.clock.advance(7.01)
    assert run_event(ctx, event_id) is None
    assert zd.writes[str(t["id"])] == 1 and ctx.store.get(event_id).attempts == 2


def test_server_errors_back_off_then_dead_letter(tmp_path, zd, database_url):
    ctx = _ctx(tmp_path, zd=zd, max_attempts=3, database_url=database_url)
    t = zd.create_ticket("Refund", REFUND)
    zd.fail_next("GET", 503, count=10)
    event_id, _ = ctx.store.add_event("zendesk", str(t["id"]), "k3")
    delays = []
    for _ in range(3):
        delays.append(run_event(ctx, event_id))
        ctx.clock.advance((delays[-1] or 0) + 0.01)
    assert delays[0] is not None and delays[1] is not None and delays[1] > delays[0] * 1.2
    assert delays[2] is None
    ev = ctx.store.get(event_id)
    assert ev.state is EventState.DEAD and "gave up after 3 attempts" in ev.last_error
    assert zd.writes[str(t["id"])] == 0


def test_deleted_ticket_skipped_and_closed_not_written(tmp_path, zd, database_url):
    ctx = _ctx(tmp_path, zd=zd, database_url=database_url)
    gone = zd.create_ticket("x", REFUND)
    zd.deleted.add(gone["id"])
    e1, _ = ctx.store.add_event("zendesk", str(gone["id"]), "k4")
    run_event(ctx, e1)
    assert ctx.store.get(e1).state is EventState.SKIPPED
    closed = zd.create_ticket("x", REFUND, status="closed")
    e2, _ = ctx.store.add_event("zendesk", str(closed["id"]), "k5")
    run_event(ctx, e2)
    assert ctx.store.get(e2).state is EventState.SKIPPED and zd.writes[str(closed["id"])] == 0


def test_rerun_after_write_is_a_noop(tmp_path, zd, database_url):
    """A crash after the PUT but before the outcome was stored: the re-run must not write again."""
    ctx = _ctx(tmp_path, zd=zd, database_url=database_url)
    t = zd.create_ticket("Refund", REFUND)
    event_id, _ = ctx.store.add_event("zendesk", str(t["id"]), "k6")
    run_event(ctx, event_id)
    with ctx.store._tx() as db:  # simulate the lost final commit
        db.execute("UPDATE events SET state='processing', lease_until=0 WHERE id=?", (event_id,))
    run_event(ctx, event_id)
    assert zd.writes[str(t["id"])] == 1
    assert ctx.store.get(event_id).state.finished


def test_freshdesk_read_merge_write_and_category_field(tmp_path, fd, database_url):
    ctx = _ctx(tmp_path, fd=fd, write_category_field=True, freshdesk_category_field="cf_ai_category",
               database_url=database_url)
    t = fd.create_ticket("Refund", REFUND, ["vip", "triage_billing"])
    fd.agent_update(t["id"], add_tags=["agent_tag"])
    event_id, _ = ctx.store.add_event("freshdesk", str(t["id"]), "k7")
    run_event(ctx, event_id)
    after = fd.ticket(t["id"])
    ev = ctx.store.get(event_id)
    assert {"vip", "agent_tag", "triage_classified"} <= set(after["tags"])
    assert "triage_billing" not in after["tags"] or ev.label == "billing"
    if ev.decision == "auto_apply":
        assert after["custom_fields"]["cf_ai_category"] == ev.label
    assert fd.writes[str(t["id"])] == 1


def test_freshdesk_validation_error_is_dead_with_reason(tmp_path, fd, database_url):
    ctx = _ctx(tmp_path, fd=fd, write_category_field=True, freshdesk_category_field="cf_unknown",
               database_url=database_url)
    t = fd.create_ticket("Refund", "Please refund me, I was charged twice for the same order, money back now")
    event_id, _ = ctx.store.add_event("freshdesk", str(t["id"]), "k8")
    run_event(ctx, event_id)
    ev = ctx.store.get(event_id)
    if ev.decision == "auto_apply":
        assert ev.state is EventState.DEAD and "HTTP 400" in ev.last_error
    else:
        assert ev.state.finished


def test_guard_prevents_loop_end_to_end(service_factory, zd, database_url):
    """A trigger that also fires on updates: our own update comes back and is ignored."""
    svc = service_factory(zd)
    auth = (f"{zd.email}/token", zd.api_token)
    import json

    import requests
    hook = requests.post(zd.base_url + "/api/v2/webhooks", auth=auth, json={"webhook": {
        "name": "t", "endpoint": svc.base_url + "/webhooks/zendesk", "http_method": "POST",
        "request_format": "json", "status": "active", "signing_secret": {"secret": "test-signing-secret-0123456789"},
        "subscriptions": ["conditional_ticket_events"]}}).json()["webhook"]
    body = json.dumps({"ticket_id": "{{ticket.id}}", "tags": "{{ticket.tags}}", "subject": "{{ticket.title}}"})
    requests.post(zd.base_url + "/api/v2/triggers", auth=auth, json={"trigger": {
        "title": "every change", "actions": [{"field": "notification_webhook", "value": [hook["id"], body]}]}})
    t = zd.create_ticket("Refund", REFUND, ["vip"])
    assert wait_for(lambda: len(zd.deliveries) >= 2)
    assert zd.writes[str(t["id"])] == 1
    assert [d.status for d in zd.deliveries] == [202, 200]  # second = our update, ignored by the guard
    assert svc.store.counts_by_state() in ({"written_back": 1}, {"needs_review": 1})


def test_event_without_api_config_is_dead(service_factory, database_url):
    svc = service_factory()
    event_id = post_zendesk(svc.base_url, {"ticket_id": "5"}).json()["event_id"]
    assert wait_for(lambda: svc.store.get(event_id).state.finished)
    ev = svc.store.get(event_id)
    assert ev.state is EventState.DEAD and ev.last_error == "zendesk API not configured"


def test_one_ticket_never_has_two_writers(store_target):
    from plugin.store import EventStore

    store = EventStore(store_target)
    a, _ = store.add_event("zendesk", "9", "a")
    b, _ = store.add_event("zendesk", "9", "b")
    c, _ = store.add_event("zendesk", "10", "c")
    assert store.claim(a) is not None
    assert store.claim(a) is None  # duplicate queue entry while leased
    assert store.claim(b) is None and store.get(b).state is EventState.RECEIVED  # same ticket: wait
    assert store.claim(c) is not None  # other tickets proceed
    store.finish(a, EventState.WRITTEN_BACK, tags_written=["triage_refund"])
    assert store.claim(b) is not None
    assert store.get(a).tags_written == ["triage_refund"] and store.get(a).attempts == 1


def test_concurrent_claims_have_one_winner_per_ticket(store_target):
    """Workers (threads here; hosts in production) race for queue entries of one ticket: duplicate
    entries of one event and entries of its sibling events. Exactly one claim wins each round."""
    import threading

    from plugin.store import EventStore

    store = EventStore(store_target)
    for round_ in range(15):
        events = [store.add_event("zendesk", f"r{round_}", f"r{round_}-{i}")[0] for i in range(3)]
        barrier = threading.Barrier(6)
        won: list[str] = []

        def race(event_id: str) -> None:
            barrier.wait()
            if store.claim(event_id) is not None:
                won.append(event_id)

        threads = [threading.Thread(target=race, args=(events[i % 3],)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(won) == 1, (round_, won)
        assert store.get(won[0]).attempts == 1


def test_stalled_events_are_found_once_per_grace_period(store_target):
    """A stalled event is handed to one sweep, then to none for ``grace_s``: the sweeps of several
    processes (two ``EventStore`` objects here) never re-enqueue the same backlog each."""
    from plugin.store import EventStore

    now = [1000.0]
    store = EventStore(store_target, clock=lambda: now[0])
    other_host = EventStore(store_target, clock=lambda: now[0])
    a, _ = store.add_event("zendesk", "1", "a")
    now[0] += 30
    assert store.take_stalled(grace_s=60) == []
    now[0] += 31
    assert [e.id for e in store.take_stalled(grace_s=60)] == [a]
    assert other_host.take_stalled(grace_s=60) == []  # already re-enqueued by the first sweep
    now[0] += 61
    assert [e.id for e in other_host.take_stalled(grace_s=60)] == [a]  # still waiting: once more
    store.claim(a, lease_s=120)
    now[0] += 61
    assert store.take_stalled(grace_s=60) == []  # a live lease
    now[0] += 60  # the worker holding it died
    assert [e.id for e in store.take_stalled(grace_s=60)] == [a]
    assert other_host.take_stalled(grace_s=60) == []


def test_start_up_sweep_marks_what_it_enqueued(store_target):
    from plugin.store import EventStore

    now = [1000.0]
    store = EventStore(store_target, clock=lambda: now[0])
    a, _ = store.add_event("zendesk", "1", "a")
    b, _ = store.add_event("zendesk", "2", "b")
    store.finish(b, EventState.SKIPPED)
    assert [e.id for e in store.take_unfinished(grace_s=60)] == [a]  # the first process to start
    assert EventStore(store_target, clock=lambda: now[0]).take_unfinished(grace_s=60) == []  # the next one
    now[0] += 59
    assert store.take_stalled(grace_s=60) == []  # ... nor the periodic sweep, until a grace has passed
    now[0] += 2
    assert [e.id for e in store.take_stalled(grace_s=60)] == [a]
    assert [e.id for e in store.take_unfinished()] == [a]  # the sole consumer takes everything


def test_unexpected_error_retries_then_dead(tmp_path, zd, database_url):
    ctx = _ctx(tmp_path, zd=zd, max_attempts=2, database_url=database_url)

    def broken(text, subject):
        raise RuntimeError("model file vanished")
    ctx.classify = broken
    t = zd.create_ticket("Refund", REFUND)
    event_id, _ = ctx.store.add_event("zendesk", str(t["id"]), "k9")
    delay = run_event(ctx, event_id)
    assert delay is not None
    assert ctx.store.get(event_id).state is EventState.RETRY
    ctx.clock.advance(delay + 0.01)
    assert run_event(ctx, event_id) is None
    ev = ctx.store.get(event_id)
    assert ev.state is EventState.DEAD and ev.last_error == "RuntimeError: model file vanished"
    assert zd.writes[str(t["id"])] == 0
