"""An agent re-labels a ticket we classified: the ticket-updated webhook records a correction."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from plugin.cli import main
from plugin.config import load_settings
from plugin.corrections import CorrectionStore, agent_label, note_agent_edit
from plugin.datasets import load_labelled
from plugin.store import EventState, EventStore
from simulators.zendesk import ZendeskSimulator
from webhooks import create_app
from webhooks.jobs import JobContext, run_event
from webhooks.signature import zendesk_signature

SECRET = "test-signing-secret"
LABELS = ["billing", "refund", "delivery", "other"]


def test_agent_label_rules():
    kw = {"prefix": "triage_", "our_label": "billing"}
    assert agent_label(["triage_billing", "triage_classified"], None, LABELS, **kw) is None
    assert agent_label(["triage_classified", "triage_refund"], None, LABELS, **kw) == ("refund", "tag")
    assert agent_label(["triage_suggest_refund"], None, LABELS, **kw) is None  # our own suggestion tag
    assert agent_label(["triage_refund"], "Delivery", LABELS, **kw) == ("delivery", "field")
    assert agent_label([], "billing", LABELS, **kw) is None


def _signed_post(client, body: dict):
    raw = json.dumps(body).encode()
    ts = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return client.post("/webhooks/zendesk", data=raw, content_type="application/json",
                       headers={"X-Zendesk-Webhook-Signature": zendesk_signature(SECRET, ts, raw),
                                "X-Zendesk-Webhook-Signature-Timestamp": ts})


@pytest.fixture
def zendesk():
    with ZendeskSimulator() as sim:
        yield sim


def test_correction_from_simulated_agent_edit(tmp_path: Path, zendesk, capsys, database_url, monkeypatch):
    env = {"TRIAGE_DATABASE_URL": database_url} if database_url else {}
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # the CLI below reads the same database
    settings = load_settings({"instance_dir": tmp_path / "instance", "classifier": "fallback",
                              "zendesk_base_url": zendesk.base_url, "zendesk_email": zendesk.email,
                              "zendesk_api_token": zendesk.api_token, "zendesk_signing_secret": SECRET},
                             env=env)
    ticket = zendesk.create_ticket("Charged twice", "I was charged twice for my order, please refund "
                                   "the duplicate payment. My email is sam@example.com")
    tid = ticket["id"]
    # 1. we classify and write back through the real job path (HTTP to the simulator)
    store = EventStore(settings.database)
    event_id, _ = store.add_event("zendesk", str(tid), "created-1", event_type="ticket.created")
    ctx = JobContext.from_settings(settings, store)
    assert run_event(ctx, event_id) is None
    ours = store.get(event_id)
    assert ours.state in (EventState.WRITTEN_BACK, EventState.NEEDS_REVIEW) and ours.label
    agent_choice = "delivery" if ours.label != "delivery" else "refund"

    # 2. an agent replaces our category in the helpdesk UI
    zendesk.agent_update(tid, add_tags=[f"triage_{agent_choice}"])
    with zendesk.lock:
        zendesk.tickets[tid]["tags"] = [t for t in zendesk.tickets[tid]["tags"] if t != f"triage_{ours.label}"]
    current = zendesk.ticket(tid)

    # 3. Zendesk sends the ticket-updated webhook (trigger body) to our service
    app = create_app(settings)
    client = app.test_client()
    body = {"ticket_id": str(tid), "subject": current["subject"], "description": current["description"],
            "tags": " ".join(current["tags"]), "status": current["status"], "updated_at": current["updated_at"]}
    resp = _signed_post(client, body)
    assert resp.status_code == 200 and resp.get_json()["status"] == "ignored"  # no re-classification

    (c,) = CorrectionStore(settings.database).list()
    assert (c.vendor, c.ticket_id, c.our_label, c.agent_label, c.source) == \
        ("zendesk", str(tid), ours.label, agent_choice, "tag")
    assert c.event_id == event_id and c.model_version == ours.model_version
    assert "sam@example.com" not in c.text and "charged twice" in c.text.lower()  # redacted, kept

    # a retried delivery of the same webhook does not duplicate it
    _signed_post(client, body)
    assert len(CorrectionStore(settings.database).list()) == 1

    # 4. export as a labelled file
    out = tmp_path / "corrections.csv"
    assert main(["corrections", "export", "--out", str(out), "--instance-dir", str(settings.instance_dir)]) == 0
    (item,) = load_labelled(out)
    assert item.label == agent_choice and item.text == c.text


def test_no_correction_when_agent_keeps_our_label(tmp_path: Path, database_url):
    settings = load_settings({"instance_dir": tmp_path / "i"}, env={"TRIAGE_DATABASE_URL": database_url or ""})
    store = EventStore(settings.database)
    eid, _ = store.add_event("freshdesk", "7", "k")
    store.claim(eid)
    store.record_classification(eid, label="billing", score=0.9, decision="auto_apply", classifier="fallback",
                                model_version="m1", prompt_tokens=0, completion_tokens=0, latency_ms=1.0)
    store.finish(eid, EventState.WRITTEN_BACK, tags_written=["triage_billing", "triage_classified"])
    kw = dict(vendor="freshdesk", ticket_id="7")
    assert note_agent_edit(settings, store, LABELS, tags=["triage_billing", "triage_classified"], **kw) is None
    c = note_agent_edit(settings, store, LABELS, tags=["triage_classified"], category="Refund", text="hi", **kw)
    assert c is not None and (c.our_label, c.agent_label, c.source) == ("billing", "refund", "field")
    assert note_agent_edit(settings, store, LABELS, tags=[], vendor="freshdesk", ticket_id="8") is None  # not ours


def test_freshdesk_category_field_reaches_the_correction_hook():
    from webhooks.payloads import parse_freshdesk

    event = parse_freshdesk({"freshdesk_webhook": {"ticket_id": 42, "ticket_tags": "triage_classified",
                                                   "ticket_category": "Refund"}})
    assert event.extra["category"] == "Refund"
    assert agent_label(event.tags, event.extra["category"], LABELS, prefix="triage_",
                       our_label="billing") == ("refund", "field")
