"""install against the simulators, Freshdesk end to end, /healthz and /metrics, the demo."""

from __future__ import annotations

import requests

from plugin.config import load_settings
from webhooks.install import install_freshdesk, install_zendesk

from .conftest import make_settings, post_zendesk, wait_for

REFUND = "I was charged twice and I want a refund of my money for the order"


def _installed(tmp_path, svc, zd=None, fd=None):
    settings = make_settings(tmp_path, zd, fd, public_base_url=svc.base_url)
    if zd is not None:
        install_zendesk(settings)
    if fd is not None:
        install_freshdesk(settings)
    stored = load_settings(config_file=settings.instance_dir / "triage.toml", env={})
    svc.app.config["SETTINGS"] = svc.app.config["SETTINGS"].model_copy(update={
        "zendesk_signing_secret": stored.zendesk_signing_secret,
        "freshdesk_webhook_secret": stored.freshdesk_webhook_secret})
    return settings


def test_dry_run_sends_nothing(tmp_path, zd, fd):
    settings = make_settings(tmp_path, zd, fd, public_base_url="https://triage.example.com")
    plan = install_zendesk(settings, dry_run=True)
    install_freshdesk(settings, dry_run=True)
    assert zd.webhooks == {} and fd.rules[1] == [] and not (settings.instance_dir / "triage.toml").exists()
    assert "https://triage.example.com/webhooks/zendesk" in "\n".join(plan.lines())


def test_install_zendesk_then_ticket_is_tagged(tmp_path, zd, service_factory):
    svc = service_factory(zd)
    settings = _installed(tmp_path, svc, zd=zd)
    toml = (settings.instance_dir / "triage.toml")
    assert oct(toml.stat().st_mode & 0o777) == "0o600"
    (hook,) = zd.webhooks.values()
    assert f'zendesk_signing_secret = "{hook["_secret"]}"' in toml.read_text()
    assert zd.triggers[0]["conditions"]["all"][1]["value"] == "triage_classified"
    t = zd.create_ticket("Refund", REFUND, ["vip"])
    assert wait_for(lambda: "triage_classified" in zd.ticket(t["id"])["tags"])
    assert "vip" in zd.ticket(t["id"])["tags"] and zd.writes[str(t["id"])] == 1


def test_install_freshdesk_then_ticket_is_tagged(tmp_path, fd, service_factory):
    svc = service_factory(fd=fd)
    _installed(tmp_path, svc, fd=fd)
    t = fd.create_ticket("Where is my parcel", "<p>My parcel has not <b>arrived</b> yet, order 1234</p>", ["vip"])
    assert wait_for(lambda: "triage_classified" in fd.ticket(t["id"])["tags"])
    assert fd.deliveries[0].status == 202
    assert "vip" in fd.ticket(t["id"])["tags"] and fd.writes[str(t["id"])] == 1


def test_healthz_and_metrics(service_factory):
    svc = service_factory(consume=False)
    post_zendesk(svc.base_url, {"ticket_id": "1"})
    post_zendesk(svc.base_url, {"ticket_id": "2"}, secret="forged")
    health = requests.get(svc.base_url + "/healthz", timeout=5).json()
    assert health == {"status": "ok", "events": {"received": 1}}
    text = requests.get(svc.base_url + "/metrics", timeout=5).text
    assert 'triage_webhooks_total{outcome="accepted",vendor="zendesk"} 1.0' in text
    assert 'triage_webhooks_total{outcome="rejected_401",vendor="zendesk"} 1.0' in text
    assert 'triage_events{state="received"} 1.0' in text


def test_demo_tags_dataset_tickets(shared_data, capsys):
    from simulators.demo import run_demo

    assert run_demo(shared_data, n=4, timeout_s=60) == 0
    assert "4/4 tickets tagged" in capsys.readouterr().out
