"""`triage install` twice leaves one webhook and one trigger/rule, and stores a secret only after
the vendor confirmed every call; a delivery signed with the stored secret is then accepted."""

from __future__ import annotations

import pytest

from plugin.config import load_settings
from plugin.exceptions import HelpdeskError
from webhooks.install import RULE_TITLE, WEBHOOK_NAME, install_freshdesk, install_zendesk

from .conftest import make_settings, wait_for

REFUND = "I was charged twice and I want a refund of my money for the order"


def _stored(settings):
    path = settings.instance_dir / "triage.toml"
    return load_settings(config_file=path, env={}) if path.exists() else None


def _use_stored_secrets(svc, settings) -> None:
    stored = _stored(settings)
    svc.app.config["SETTINGS"] = svc.app.config["SETTINGS"].model_copy(update={
        "zendesk_signing_secret": stored.zendesk_signing_secret,
        "freshdesk_webhook_secret": stored.freshdesk_webhook_secret})


def _bare(tmp_path, zd=None, fd=None, **overrides):
    """Settings as a first install sees them: no secrets configured yet."""
    return make_settings(tmp_path, zd, fd, zendesk_signing_secret=None, freshdesk_webhook_secret=None, **overrides)


def test_zendesk_install_twice_one_webhook_one_trigger_and_deliveries_accepted(tmp_path, zd, service_factory):
    svc = service_factory(zd, zendesk_signing_secret=None)
    zd.list_page_size = 1  # the lookup must follow the list's pages
    zd.webhooks["OTHER1"] = {"id": "OTHER1", "name": "Slack bridge", "endpoint": "https://x.example/hook",
                             "http_method": "POST", "request_format": "json", "status": "active", "_secret": "s"}
    settings = _bare(tmp_path, zd, public_base_url="http://old.example")
    install_zendesk(settings)
    first_secret = _stored(settings).zendesk_signing_secret.get_secret_value()
    settings = settings.model_copy(update={"public_base_url": svc.base_url})  # the URL changed meanwhile
    install_zendesk(settings)
    ours = [h for h in zd.webhooks.values() if h["name"] == WEBHOOK_NAME]
    assert len(ours) == 1 and len(zd.webhooks) == 2
    assert ours[0]["endpoint"] == f"{svc.base_url}/webhooks/zendesk"
    assert [t["title"] for t in zd.triggers] == [RULE_TITLE]
    assert zd.triggers[0]["actions"][0]["value"][0] == ours[0]["id"]
    stored = _stored(settings).zendesk_signing_secret.get_secret_value()
    assert stored == first_secret == ours[0]["_secret"]
    text = (settings.instance_dir / "triage.toml").read_text()
    assert text.count("zendesk_signing_secret") == 1

    _use_stored_secrets(svc, settings)
    t = zd.create_ticket("Refund", REFUND, ["vip"])
    assert wait_for(lambda: "triage_classified" in zd.ticket(t["id"])["tags"])
    assert [d.status for d in zd.deliveries] == [202]  # one trigger fired, signed with the stored secret
    assert zd.writes[str(t["id"])] == 1


def test_zendesk_install_removes_copies_left_by_older_versions(tmp_path, zd):
    for wid in ("OLD1", "OLD2"):
        zd.webhooks[wid] = {"id": wid, "name": WEBHOOK_NAME, "endpoint": "https://old.example/webhooks/zendesk",
                            "http_method": "POST", "request_format": "json", "status": "active", "_secret": wid}
    zd.triggers += [{"id": 1, "title": RULE_TITLE, "actions": [{"field": "notification_webhook", "value": ["OLD1", "{}"]}]},
                    {"id": 2, "title": RULE_TITLE, "actions": [{"field": "notification_webhook", "value": ["OLD2", "{}"]}]}]
    settings = _bare(tmp_path, zd, public_base_url="https://triage.example.com")
    install_zendesk(settings)
    assert list(zd.webhooks) == ["OLD1"] and [t["id"] for t in zd.triggers] == [1]
    assert zd.triggers[0]["actions"][0]["value"][0] == "OLD1"
    assert _stored(settings).zendesk_signing_secret.get_secret_value() == "OLD1"


@pytest.mark.parametrize("method,path,status", [("POST", "/api/v2/webhooks", 500),  # creating the webhook
                                                ("GET", "/signing_secret", 403),  # reading its secret
                                                ("POST", "/api/v2/triggers", 422)])  # creating the trigger
def test_zendesk_vendor_failure_stores_no_secret(tmp_path, zd, method, path, status):
    settings = _bare(tmp_path, zd, public_base_url="https://triage.example.com")
    zd.fail_next(method, status, path=path)
    with pytest.raises(HelpdeskError):
        install_zendesk(settings)
    assert _stored(settings) is None
    install_zendesk(settings)  # the next run finishes the job, without a second webhook or trigger
    assert len(zd.webhooks) == 1 and len(zd.triggers) == 1
    (hook,) = zd.webhooks.values()
    assert _stored(settings).zendesk_signing_secret.get_secret_value() == hook["_secret"]
    assert zd.triggers[0]["actions"][0]["value"][0] == hook["id"]


def test_freshdesk_install_twice_one_rule_same_secret_and_deliveries_accepted(tmp_path, fd, service_factory):
    svc = service_factory(fd=fd, freshdesk_webhook_secret=None)
    settings = _bare(tmp_path, fd=fd, public_base_url=svc.base_url)
    install_freshdesk(settings)
    secret = _stored(settings).freshdesk_webhook_secret.get_secret_value()
    install_freshdesk(_stored_into(settings))
    (rule,) = fd.rules[1]
    assert fd.rules[4] == []  # live mode: no ticket-update rule (agents' labels matter in shadow / A/B)
    assert rule["name"] == RULE_TITLE and _stored(settings).freshdesk_webhook_secret.get_secret_value() == secret
    assert rule["actions"][0]["custom_headers"]["X-Triage-Secret"] == secret

    _use_stored_secrets(svc, settings)
    t = fd.create_ticket("Where is my parcel", "<p>My parcel has not arrived yet, order 1234</p>")
    assert wait_for(lambda: "triage_classified" in fd.ticket(t["id"])["tags"])
    assert [d.status for d in fd.deliveries] == [202]


def test_freshdesk_vendor_failure_stores_no_secret(tmp_path, fd):
    settings = _bare(tmp_path, fd=fd, public_base_url="https://triage.example.com")
    fd.fail_next("POST", 500, path="/rules")
    with pytest.raises(HelpdeskError):
        install_freshdesk(settings)
    assert _stored(settings) is None and fd.rules[1] == []
    install_freshdesk(settings)
    assert len(fd.rules[1]) == 1 and _stored(settings).freshdesk_webhook_secret is not None


def _stored_into(settings):
    """The settings a second `triage install` run reads: the instance file's secret included."""
    return settings.model_copy(update={"freshdesk_webhook_secret": _stored(settings).freshdesk_webhook_secret})
