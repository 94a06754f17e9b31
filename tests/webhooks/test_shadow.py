"""Shadow mode and the A/B split end to end: install → ticket → nothing written → agent labels recorded."""

from __future__ import annotations

import json

from plugin.agreement import rollout_summary
from plugin.commands import report as report_command
from plugin.config import load_settings
from plugin.corrections import CorrectionStore
from plugin.instance import update_instance_file
from plugin.rollout import LIVE, MANUAL, RolloutStore, group_for
from plugin.store import EventState
from plugin.taxonomy import load_taxonomy
from webhooks.install import AGENT_RULE_TITLE, install_freshdesk, install_zendesk

from .conftest import make_settings, wait_for

TEXTS = ["I was charged twice and I want a refund of my money for the order",
         "My parcel has not arrived yet, where is it? Order 1234",
         "I forgot my password and cannot log in to my account"]


def _installed(tmp_path, svc, zd, **overrides):
    settings = make_settings(tmp_path, zd, public_base_url=svc.base_url, **overrides)
    install_zendesk(settings)
    update_instance_file(settings.instance_dir, overrides)  # as `triage install --shadow` stores it
    stored = load_settings(config_file=settings.instance_dir / "triage.toml", env={})
    svc.app.config["SETTINGS"] = svc.app.config["SETTINGS"].model_copy(
        update={"zendesk_signing_secret": stored.zendesk_signing_secret})
    return settings


def _classified(svc, ticket_id: int):
    """The finished, classified event of a ticket (None until there is one)."""
    for ev in svc.store.events(vendor="zendesk", ticket_id=str(ticket_id)):
        if ev.label is not None and ev.state.finished:
            return ev
    return None


def test_shadow_writes_nothing_and_records_agents_labels(tmp_path, zd, service_factory, capsys):
    svc = service_factory(zd, rollout_mode="shadow")
    settings = _installed(tmp_path, svc, zd, rollout_mode="shadow")
    assert [t["title"] for t in zd.triggers][1] == AGENT_RULE_TITLE
    tickets = [zd.create_ticket(f"Ticket {i}", text, ["vip"]) for i, text in enumerate(TEXTS)]
    assert wait_for(lambda: all(_classified(svc, t["id"]) for t in tickets))
    ours = {t["id"]: _classified(svc, t["id"]) for t in tickets}
    assert {ev.state for ev in ours.values()} == {EventState.SHADOW}
    assert sum(zd.writes.values()) == 0  # the simulator counted no API write at all
    assert all(zd.ticket(t["id"])["tags"] == ["vip"] for t in tickets)

    # agent 1 picks our category, agent 2 another one: each update reaches us through the trigger
    labels = load_taxonomy().names
    agree, disagree = tickets[0]["id"], tickets[1]["id"]
    other_label = next(n for n in labels if n != ours[disagree].label)
    zd.agent_update(agree, add_tags=[f"triage_{ours[agree].label}"])
    zd.agent_update(disagree, add_tags=[f"triage_{other_label}"], status="solved")
    rollout = _agents_recorded(settings, agree=(agree, ours[agree].label),
                               disagree=(disagree, ours[disagree].label, other_label), status="solved")
    assert sum(zd.writes.values()) == 0  # still nothing written after the agents' updates

    s = rollout_summary(svc.store, rollout, CorrectionStore(settings.db_path).list(), load_taxonomy(),
                        mode="shadow", ab_live_share=1.0, since_s=3600)
    assert (s.agreement.k, s.agreement.n) == (1, 2) and 0 < s.agreement.low < 0.5 < s.agreement.high < 1
    (manual,) = s.groups
    assert (manual.group, manual.tickets, manual.agent_labelled, manual.solved) == (MANUAL, 3, 2, 1)

    code = report_command.run(_args(settings))
    out = json.loads(capsys.readouterr().out)["rollout"]
    assert code == 0 and out["agreement"]["k"] == 1 and out["agreement"]["n"] == 2 and out["mode"] == "shadow"


def test_freshdesk_shadow_installs_the_update_rule_and_records_agents_labels(tmp_path, fd, service_factory):
    svc = service_factory(fd=fd, rollout_mode="shadow")
    settings = make_settings(tmp_path, None, fd, public_base_url=svc.base_url, rollout_mode="shadow",
                             freshdesk_webhook_secret=None)
    install_freshdesk(settings)
    stored = load_settings(config_file=settings.instance_dir / "triage.toml", env={})
    install_freshdesk(settings.model_copy(update={"freshdesk_webhook_secret": stored.freshdesk_webhook_secret}))
    assert [r["name"] for r in fd.rules[4]] == [AGENT_RULE_TITLE]  # ticket updates (once), beside the creation rule
    assert [r["name"] for r in fd.rules[1]] == ["AI triage: classify new tickets"]
    svc.app.config["SETTINGS"] = svc.app.config["SETTINGS"].model_copy(
        update={"freshdesk_webhook_secret": stored.freshdesk_webhook_secret})
    tickets = [fd.create_ticket(f"Ticket {i}", text, ["vip"]) for i, text in enumerate(TEXTS)]

    def classified(tid: int):
        return next((ev for ev in svc.store.events(vendor="freshdesk", ticket_id=str(tid))
                     if ev.label is not None and ev.state.finished), None)
    assert wait_for(lambda: all(classified(t["id"]) for t in tickets))
    ours = {t["id"]: classified(t["id"]) for t in tickets}
    assert {ev.state for ev in ours.values()} == {EventState.SHADOW} and sum(fd.writes.values()) == 0

    labels = load_taxonomy().names
    agree, disagree, untouched = (t["id"] for t in tickets)
    other_label = next(n for n in labels if n != ours[disagree].label)
    fd.agent_update(agree, add_tags=[f"triage_{ours[agree].label}"])
    fd.agent_update(disagree, add_tags=[f"triage_{other_label}"], status=4)  # and Resolved
    fd.agent_update(untouched, add_tags=["vip2"])  # neither a category nor resolved: the rule stays quiet
    _agents_recorded(settings, agree=(agree, ours[agree].label),
                     disagree=(disagree, ours[disagree].label, other_label), status="resolved")
    assert len(list(svc.store.events(vendor="freshdesk", ticket_id=str(untouched)))) == 1
    assert sum(fd.writes.values()) == 0


def test_shadow_tag_is_the_only_write(tmp_path, zd, service_factory):
    svc = service_factory(zd, rollout_mode="shadow", shadow_tag=True)
    _installed(tmp_path, svc, zd, rollout_mode="shadow", shadow_tag=True)
    t = zd.create_ticket("Refund", TEXTS[0], ["vip"])
    assert wait_for(lambda: _classified(svc, t["id"]) is not None)
    ev = _classified(svc, t["id"])
    assert ev.state == EventState.SHADOW and zd.writes[str(t["id"])] == 1
    assert zd.ticket(t["id"])["tags"] == ["vip", f"triage_shadow_{ev.label}"]


def test_ab_split_writes_only_the_live_group(tmp_path, zd, service_factory):
    svc = service_factory(zd, ab_live_share=0.5)
    settings = _installed(tmp_path, svc, zd, ab_live_share=0.5)
    tickets = [zd.create_ticket(f"T{i}", TEXTS[i % 3]) for i in range(12)]
    groups = {t["id"]: group_for(settings, "zendesk", str(t["id"])) for t in tickets}
    assert set(groups.values()) == {LIVE, MANUAL}  # 12 ids, share 0.5: both groups occur
    assert wait_for(lambda: all(_classified(svc, t["id"]) for t in tickets))
    handled = RolloutStore(settings.db_path).tickets()
    for t in tickets:
        ev = _classified(svc, t["id"])
        assert handled[ev.id].grp == groups[t["id"]]
        if groups[t["id"]] == LIVE:
            assert ev.state in (EventState.WRITTEN_BACK, EventState.NEEDS_REVIEW) and zd.writes[str(t["id"])] == 1
        else:
            assert ev.state == EventState.SHADOW and zd.writes[str(t["id"])] == 0
        assert handled[ev.id].text and "4111" not in handled[ev.id].text  # redacted text kept
    assert group_for(settings, "zendesk", "1001") == group_for(settings.model_copy(), "zendesk", "1001")


def _agents_recorded(settings, *, agree: tuple, disagree: tuple, status: str) -> RolloutStore:
    """Both agents' labels and the closing status reached the rollout store through the update
    rule, and the disagreement is stored as a correction (labelled data too)."""
    (agree_id, our_label), (disagree_id, our_other, agent_label) = agree, disagree
    rollout = RolloutStore(settings.db_path)
    assert wait_for(lambda: len([a for a in rollout.activity() if a.kind == "label"]) == 2)
    assert wait_for(lambda: any(a.kind == "status" for a in rollout.activity()))
    seen = {(a.ticket_id, a.kind): a.value for a in rollout.activity()}
    assert seen[(str(agree_id), "label")] == our_label
    assert seen[(str(disagree_id), "label")] == agent_label and seen[(str(disagree_id), "status")] == status
    assert wait_for(lambda: CorrectionStore(settings.db_path).list())
    (correction,) = CorrectionStore(settings.db_path).list()
    assert (correction.our_label, correction.agent_label) == (our_other, agent_label)
    return rollout


def _args(settings):
    import argparse

    return argparse.Namespace(since="1h", instance_dir=str(settings.instance_dir), json=True)
