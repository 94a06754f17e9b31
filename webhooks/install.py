"""``triage install zendesk|freshdesk``: create the webhook and the trigger/automation via the API.

The signing secret (Zendesk) or a freshly generated shared secret (Freshdesk) is stored in the
instance file ``instance/triage.toml`` (mode 0600), which ``load_settings`` reads at start-up.
With ``dry_run`` the requests are returned for printing and nothing is sent or stored.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from plugin.config import Settings
from plugin.exceptions import ConfigError, HelpdeskError
from plugin.helpdesk.tags import safe_tag

ZENDESK_TRIGGER_BODY = {
    "source": "zendesk", "ticket_id": "{{ticket.id}}", "subject": "{{ticket.title}}",
    "description": "{{ticket.description}}", "tags": "{{ticket.tags}}", "status": "{{ticket.status}}",
    "priority": "{{ticket.priority}}", "type": "{{ticket.ticket_type}}", "via": "{{ticket.via}}",
    "updated_at": "{{ticket.updated_at}}",
}
FRESHDESK_CONTENT = {"freshdesk_webhook": {
    "source": "freshdesk", "triggered_event": "{{triggered_event}}", "ticket_id": "{{ticket.id}}",
    "ticket_subject": "{{ticket.subject}}", "ticket_description": "{{ticket.description}}",
    "ticket_type": "{{ticket.ticket_type}}", "ticket_status": "{{ticket.status}}",
    "ticket_priority": "{{ticket.priority}}"}}
FRESHDESK_TICKET_CREATION_RULES = "/api/v2/automations/1/rules"  # [U] automation type id


@dataclass
class Plan:
    """The calls an install makes, in order (secrets shown as ``***``)."""

    vendor: str
    calls: list[tuple[str, str, Any]] = field(default_factory=list)
    stored: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"{m} {p}\n{json.dumps(b, indent=2)}" if b is not None else f"{m} {p}" for m, p, b in self.calls]
        out += [f"store {k} = *** in the instance file" for k in self.stored]
        return out


def _endpoint(settings: Settings, vendor: str) -> str:
    if not settings.public_base_url:
        raise ConfigError("public_base_url is required: how the helpdesk reaches this service")
    return settings.public_base_url.rstrip("/") + f"/webhooks/{vendor}"


def _call(session: requests.Session, base: str, method: str, path: str, body: Any) -> dict:
    resp = session.request(method, base.rstrip("/") + path, json=body, timeout=20)
    if resp.status_code >= 300:
        raise HelpdeskError(f"{method} {path}: HTTP {resp.status_code}", status=resp.status_code)
    return resp.json() if resp.content else {}


def install_zendesk(settings: Settings, *, dry_run: bool = False) -> Plan:
    if not (settings.zendesk_base_url and settings.zendesk_email and settings.zendesk_api_token):
        raise ConfigError("zendesk_base_url, zendesk_email and zendesk_api_token are required")
    plan = Plan("zendesk")
    hook = {"webhook": {"name": "AI triage", "status": "active", "endpoint": _endpoint(settings, "zendesk"),
                        "http_method": "POST", "request_format": "json",
                        "subscriptions": ["conditional_ticket_events"]}}
    trigger = lambda wid: {"trigger": {  # noqa: E731
        "title": "AI triage: classify new tickets",
        "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "Create"},
                               {"field": "current_tags", "operator": "not_includes",
                                "value": safe_tag(settings.guard_tag)}], "any": []},
        "actions": [{"field": "notification_webhook", "value": [wid, json.dumps(ZENDESK_TRIGGER_BODY)]}]}}
    plan.calls = [("POST", "/api/v2/webhooks", hook), ("GET", "/api/v2/webhooks/{id}/signing_secret", None),
                  ("POST", "/api/v2/triggers", trigger("{id}"))]
    plan.stored = {"zendesk_signing_secret": "***"}
    if dry_run:
        return plan
    with requests.Session() as s:
        s.auth = (f"{settings.zendesk_email}/token", settings.zendesk_api_token.get_secret_value())
        base = settings.zendesk_base_url
        wid = _call(s, base, "POST", "/api/v2/webhooks", hook)["webhook"]["id"]
        secret = _call(s, base, "GET", f"/api/v2/webhooks/{wid}/signing_secret", None)["signing_secret"]["secret"]
        store_secret(settings.instance_dir, "zendesk_signing_secret", secret)
        _call(s, base, "POST", "/api/v2/triggers", trigger(wid))
    return plan


def install_freshdesk(settings: Settings, *, dry_run: bool = False) -> Plan:
    if not (settings.freshdesk_base_url and settings.freshdesk_api_key):
        raise ConfigError("freshdesk_base_url and freshdesk_api_key are required")
    secret = secrets.token_urlsafe(32)
    rule = lambda value: {  # noqa: E731
        "name": "AI triage: classify new tickets", "active": True,
        "conditions": [{"field_name": "tag_names", "operator": "not_in", "value": [safe_tag(settings.guard_tag)]}],
        "actions": [{"field_name": "trigger_webhook", "request_type": "POST", "url": _endpoint(settings, "freshdesk"),
                     "content_type": "json", "content": FRESHDESK_CONTENT,
                     "custom_headers": {settings.freshdesk_secret_header: value}}]}
    plan = Plan("freshdesk", [("POST", FRESHDESK_TICKET_CREATION_RULES, rule("***"))],
                {"freshdesk_webhook_secret": "***"})
    if dry_run:
        return plan
    with requests.Session() as s:
        s.auth = (settings.freshdesk_api_key.get_secret_value(), "X")
        store_secret(settings.instance_dir, "freshdesk_webhook_secret", secret)
        _call(s, settings.freshdesk_base_url, "POST", FRESHDESK_TICKET_CREATION_RULES, rule(secret))
    return plan


def store_secret(instance_dir: Path, key: str, value: str) -> Path:
    """Upsert ``key = "value"`` in ``instance/triage.toml``, readable by the owner only."""
    path = Path(instance_dir) / "triage.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = path.read_text("utf-8") if path.exists() else ""
    line = f"{key} = {json.dumps(value)}"
    pattern = re.compile(rf"(?m)^{re.escape(key)}\s*=.*$")
    text = pattern.sub(line, text) if pattern.search(text) else (text + ("\n" if text and not text.endswith("\n") else "") + line + "\n")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(path, 0o600)
    return path
