"""Tolerant parsing of real payload variants (pure), and the HTTP answers for bad ones."""

from __future__ import annotations

import json

import pytest

from plugin.exceptions import PayloadError
from webhooks.payloads import (dedup_key, decode_body, parse_freshdesk, parse_triggered_event,
                               parse_zendesk)

from .conftest import post_freshdesk, post_zendesk

ENVELOPE = {"type": "zen:event-type:ticket.created", "account_id": 22129848,
            "id": "c6d7e8f9-0a1b", "time": "2026-01-15T09:29:58.123456789Z",
            "zendesk_event_version": "2022-11-06", "subject": "zen:ticket:35436",
            "detail": {"id": "35436", "subject": "Refund for order #1234", "description": "Hi, charged twice",
                       "status": "NEW", "priority": "NORMAL", "tags": ["vip", "billing"],
                       "updated_at": "2026-01-15T09:29:58Z"}, "event": {}}


def test_zendesk_event_envelope():
    ev = parse_zendesk(ENVELOPE)
    assert (ev.ticket_id, ev.event_type, ev.status, ev.tags) == ("35436", "ticket.created", "new", ["vip", "billing"])
    assert dedup_key(ev, ENVELOPE, b"", now=0) == ("evt:c6d7e8f9-0a1b", None)


def test_zendesk_envelope_id_from_subject_when_detail_lacks_it():
    data = json.loads(json.dumps(ENVELOPE))
    del data["detail"]["id"]
    assert parse_zendesk(data).ticket_id == "35436"


def test_zendesk_unknown_event_type():
    with pytest.raises(PayloadError, match="unsupported event"):
        parse_zendesk({**ENVELOPE, "type": "zen:event-type:user.created"})


@pytest.mark.parametrize("body", [
    {"ticket_id": "35436"}, {"ticket_id": 35436}, {"ticket.id": "35436"}, {"ticket": {"id": 35436}},
    {"id": " 35436 "},
])
def test_zendesk_id_shapes(body):
    assert parse_zendesk(body).ticket_id == "35436"


def test_zendesk_trigger_body_placeholders_and_case():
    ev = parse_zendesk({"ticket_id": "9", "subject": "{{ticket.title}}", "description": "", "tags": "VIP  billing",
                        "status": "Open", "priority": "{{ticket.priority}}"})
    assert ev.subject is None and ev.text is None
    assert ev.tags == ["vip", "billing"] and ev.status == "open"


@pytest.mark.parametrize("body", [{}, {"ticket_id": "{{ticket.id}}"}, {"ticket_id": "abc"}, {"subject": "x"}])
def test_missing_or_bad_id(body):
    with pytest.raises(PayloadError):
        parse_zendesk(body)


def test_broken_json_keeps_id():
    raw = b'{"ticket_id":"42","description":"He said "hi"\nbye"}'
    assert parse_zendesk(decode_body(raw)).ticket_id == "42"
    with pytest.raises(PayloadError):
        decode_body(b'{"description": "no id "here"}')


def test_freshdesk_wrapper_and_events():
    ev = parse_freshdesk({"freshdesk_webhook": {"ticket_id": 11, "triggered_event": "{ticket_action:created}",
                                                "ticket_subject": "Refund", "ticket_status": "Pending",
                                                "ticket_description": "<div>Hi</div>"}})
    assert (ev.ticket_id, ev.event_type, ev.status, ev.text) == ("11", "created", "pending", "<div>Hi</div>")
    assert parse_freshdesk({"ticket_id": "11"}).event_type == "unknown"


@pytest.mark.parametrize("raw,expected", [
    ("{ticket_action:created}", "created"), ("{status:{from:4,to:6}}", "status_changed"),
    ("{note_type:public}", "note_added"), (None, "unknown"), ("{{triggered_event}}", "unknown"),
])
def test_triggered_event(raw, expected):
    assert parse_triggered_event(raw) == expected


def test_freshdesk_note_without_text_is_fetched():
    ev = parse_freshdesk({"ticket_id": "5", "triggered_event": "{note_type:private}",
                          "ticket_description": "<p>original</p>"})
    assert ev.event_type == "note_added" and ev.text is None  # the job reads the ticket via the API


def test_http_rejections(service_factory):
    svc = service_factory(consume=False, max_body_bytes=2048)
    r = post_zendesk(svc.base_url, {"subject": "no id"})
    assert r.status_code == 400 and r.json()["error"] == "ticket id missing"
    r = post_zendesk(svc.base_url, {**ENVELOPE, "type": "zen:event-type:user.created"})
    assert r.status_code == 422
    r = post_zendesk(svc.base_url, b"[1, 2]")
    assert r.status_code == 400 and "JSON object" in r.json()["error"]
    r = post_zendesk(svc.base_url, {"ticket_id": "1", "description": "x" * 5000})
    assert r.status_code == 413 and r.json() == {"error": "body too large"}
    r = post_freshdesk(svc.base_url, {"freshdesk_webhook": {"ticket_subject": "x"}})
    assert r.status_code == 400
    assert svc.store.counts_by_state() == {}


def test_dedup_over_http(service_factory):
    svc = service_factory(consume=False)
    first = post_zendesk(svc.base_url, ENVELOPE)
    again = post_zendesk(svc.base_url, ENVELOPE)
    assert first.status_code == 202 and again.status_code == 200
    assert again.json() == {"status": "duplicate", "event_id": first.json()["event_id"]}
    body = {"ticket_id": "77", "subject": "x"}
    inv = {"X-Zendesk-Webhook-Invocation-Id": "inv-1"}
    assert post_zendesk(svc.base_url, body, headers=inv).status_code == 202
    assert post_zendesk(svc.base_url, body, headers=inv).status_code == 200
    assert svc.store.counts_by_state() == {"received": 2}


def test_guard_tag_on_arrival_is_ignored(service_factory):
    svc = service_factory(consume=False)
    r = post_zendesk(svc.base_url, {"ticket_id": "3", "tags": "vip triage_classified"})
    assert r.status_code == 200 and r.json()["status"] == "ignored"
    r = post_zendesk(svc.base_url, {**ENVELOPE, "id": "other", "detail": {**ENVELOPE["detail"],
                                                                             "tags": ["triage_classified"]}})
    assert r.json()["status"] == "ignored"
    assert svc.store.counts_by_state() == {}


def test_freshdesk_auth(service_factory):
    svc = service_factory(consume=False)
    body = {"freshdesk_webhook": {"ticket_id": "11", "triggered_event": "{ticket_action:created}"}}
    assert post_freshdesk(svc.base_url, body, secret=None).json() == {"error": "missing shared secret"}
    assert post_freshdesk(svc.base_url, body, secret="wrong").status_code == 401
    assert post_freshdesk(svc.base_url, body, auth=("triage", "wrong")).status_code == 401
    assert post_freshdesk(svc.base_url, body).status_code == 202
    body2 = {"freshdesk_webhook": {"ticket_id": "12"}}
    from .conftest import FD_SECRET
    assert post_freshdesk(svc.base_url, body2, auth=("triage", FD_SECRET)).status_code == 202
    assert post_freshdesk(svc.base_url, {"ticket_id": "13"}, auth=(FD_SECRET, "X")).status_code == 202


def test_freshdesk_form_encoded_webhook(service_factory):
    """An automation rule may post form fields: the first value of a repeated field wins."""
    import requests

    from .conftest import FD_SECRET

    svc = service_factory(consume=False)
    r = requests.post(svc.base_url + "/webhooks/freshdesk", headers={"X-Triage-Secret": FD_SECRET}, timeout=10,
                      data={"ticket_id": ["31", "32"], "ticket_subject": "Refund please", "ticket_tags": "vip,late"})
    assert r.status_code == 202, r.text
    (event,) = svc.store.events()
    assert (event.vendor, event.ticket_id, event.payload["tags"]) == ("freshdesk", "31", ["vip", "late"])
    bad = requests.post(svc.base_url + "/webhooks/freshdesk", headers={"X-Triage-Secret": FD_SECRET},
                        data={"ticket_subject": "no id"}, timeout=10)
    assert bad.status_code == 400 and bad.json() == {"error": "ticket id missing"}
