"""``triage install zendesk|freshdesk``: create or update the webhook and the trigger/automation.

Idempotent: each object is found by its exact name (``WEBHOOK_NAME``, ``RULE_TITLE``) and updated
in place, so running it again (new public URL, changed guard tag, a half-finished earlier run)
leaves one webhook and one trigger/rule. Copies left by older versions under the same name are
deleted: their secrets are not stored, so they could only ever deliver refused webhooks.

The secret is written to ``instance/triage.toml`` (mode 0600, ``plugin.instance``) only after
the vendor has confirmed every call. A failed run stores nothing, and the next run picks up the
objects it did create. With ``dry_run`` the calls are returned for printing and nothing is sent.

Shadow mode and the A/B split (``plugin.rollout``) need to see what agents do afterwards: on
Zendesk a second trigger (``AGENT_RULE_TITLE``) sends ticket updates that carry a category tag or
reach ``solved``. It is installed when the settings leave tickets to agents, and kept when the
admin later switches to live (it then only brings agents' corrections).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any, Iterator

import requests

from plugin.config import Settings
from plugin.exceptions import ConfigError, HelpdeskError
from plugin.helpdesk.tags import safe_tag
from plugin.instance import update_instance_file

WEBHOOK_NAME = "AI triage"
RULE_TITLE = "AI triage: classify new tickets"
AGENT_RULE_TITLE = "AI triage: agents' labels (shadow / A/B)"
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
FRESHDESK_TICKET_UPDATE_RULES = "/api/v2/automations/4/rules"  # [U] automation type id
# The agents' rule sends the tags too: an agent's label is a tag change, which would otherwise
# leave the body (and so its content-hash dedup key) equal to an earlier update's.
FRESHDESK_AGENT_CONTENT = {"freshdesk_webhook": {**FRESHDESK_CONTENT["freshdesk_webhook"],
                                                 "ticket_tags": "{{ticket.tags}}"}}
FRESHDESK_DONE_STATUSES = [4, 5]  # Resolved, Closed
MAX_PAGES = 50  # list calls follow "next" links at most this far (100 per page)


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


class _Api:
    """One vendor API session: every call must succeed (2xx) or the install stops there."""

    def __init__(self, base: str, auth: tuple[str, str]) -> None:
        self.base = base.rstrip("/")
        self.session = requests.Session()
        self.session.auth = auth

    def __enter__(self) -> "_Api":
        return self

    def __exit__(self, *exc: object) -> None:
        self.session.close()

    def call(self, method: str, path: str, body: Any = None, params: dict | None = None) -> Any:
        url = path if path.startswith("http") else self.base + path
        resp = self.session.request(method, url, json=body, params=params, timeout=20)
        if resp.status_code >= 300:
            raise HelpdeskError(f"{method} {path.split('?')[0]}: HTTP {resp.status_code}", status=resp.status_code)
        return resp.json() if resp.content else {}

    def pages(self, path: str, key: str, params: dict | None = None) -> Iterator[dict]:
        """Items of a Zendesk list, following cursor (``links.next``) or offset (``next_page``) links."""
        page = self.call("GET", path, params=params)
        for _ in range(MAX_PAGES):
            yield from page.get(key) or []
            nxt = page.get("next_page") or ((page.get("meta") or {}).get("has_more")
                                             and (page.get("links") or {}).get("next"))
            if not nxt:
                return
            page = self.call("GET", nxt)


def _upsert(api: _Api, existing: list[dict], collection: str, envelope: str | None, body: dict,
            update_method: str = "PUT") -> str:
    """Update the first object of ours (deleting extra copies) or create one; returns its id."""
    wrapped = {envelope: body} if envelope else body
    if not existing:
        created = api.call("POST", collection, wrapped)
        return str((created.get(envelope) if envelope else created)["id"])
    keep, *extra = existing
    api.call(update_method, f"{collection}/{keep['id']}", wrapped)
    for obj in extra:
        api.call("DELETE", f"{collection}/{obj['id']}")
    return str(keep["id"])


def _leaves_tickets_to_agents(settings: Settings) -> bool:
    return settings.rollout_mode == "shadow" or settings.ab_live_share < 1.0


def _category_tags(settings: Settings) -> list[str]:
    """The tags that say an agent (or a category dropdown) chose a category."""
    from plugin.corrections import taxonomy_labels
    from plugin.helpdesk.tags import category_tag

    return [category_tag(settings.tag_prefix, name) for name in taxonomy_labels(settings)]


def _agent_trigger(settings: Settings, wid: str) -> dict:
    """Updates that carry any category tag, or reach solved: where agents' own routing shows."""
    tags = " ".join(_category_tags(settings))
    return {"title": AGENT_RULE_TITLE, "active": True,
            "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "Change"}],
                           "any": [{"field": "current_tags", "operator": "includes", "value": tags},
                                   {"field": "status", "operator": "is", "value": "solved"}]},
            "actions": [{"field": "notification_webhook", "value": [wid, json.dumps(ZENDESK_TRIGGER_BODY)]}]}


def install_zendesk(settings: Settings, *, dry_run: bool = False) -> Plan:
    """Find or create the webhook, read its signing secret, find or create the trigger(s), store."""
    if not (settings.zendesk_base_url and settings.zendesk_email and settings.zendesk_api_token):
        raise ConfigError("zendesk_base_url, zendesk_email and zendesk_api_token are required")
    hook = {"name": WEBHOOK_NAME, "status": "active", "endpoint": _endpoint(settings, "zendesk"),
            "http_method": "POST", "request_format": "json", "subscriptions": ["conditional_ticket_events"]}

    def trigger(wid: str) -> dict:
        return {"title": RULE_TITLE, "active": True,
                "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "Create"},
                                       {"field": "current_tags", "operator": "not_includes",
                                        "value": safe_tag(settings.guard_tag)}], "any": []},
                "actions": [{"field": "notification_webhook", "value": [wid, json.dumps(ZENDESK_TRIGGER_BODY)]}]}

    plan = Plan("zendesk", [
        ("GET", f"/api/v2/webhooks?filter[name_contains]={WEBHOOK_NAME}", None),
        ("POST /api/v2/webhooks, or PUT", "/api/v2/webhooks/{id} (found by name)", {"webhook": hook}),
        ("GET", "/api/v2/webhooks/{id}/signing_secret", None), ("GET", "/api/v2/triggers", None),
        ("POST /api/v2/triggers, or PUT", "/api/v2/triggers/{id} (found by title)", {"trigger": trigger("{id}")})],
        {"zendesk_signing_secret": "***"})
    agents = _leaves_tickets_to_agents(settings)
    if agents:
        plan.calls.append(("POST /api/v2/triggers, or PUT", "/api/v2/triggers/{id} (found by title)",
                           {"trigger": _agent_trigger(settings, "{id}")}))
    if dry_run:
        return plan
    auth = (f"{settings.zendesk_email}/token", settings.zendesk_api_token.get_secret_value())
    with _Api(settings.zendesk_base_url, auth) as api:
        ours = [w for w in api.pages("/api/v2/webhooks", "webhooks", {"filter[name_contains]": WEBHOOK_NAME})
                if w.get("name") == WEBHOOK_NAME]
        wid = _upsert(api, ours, "/api/v2/webhooks", "webhook", hook)
        secret = api.call("GET", f"/api/v2/webhooks/{wid}/signing_secret")["signing_secret"]["secret"]
        listed = list(api.pages("/api/v2/triggers", "triggers"))
        _upsert(api, [t for t in listed if t.get("title") == RULE_TITLE], "/api/v2/triggers", "trigger", trigger(wid))
        if agents:
            _upsert(api, [t for t in listed if t.get("title") == AGENT_RULE_TITLE], "/api/v2/triggers", "trigger",
                    _agent_trigger(settings, wid))
    update_instance_file(settings.instance_dir, {"zendesk_signing_secret": secret})
    return plan


def _freshdesk_agent_rule(settings: Settings, action: dict) -> dict:
    """Ticket updates that carry any category tag, or reach Resolved/Closed (match any)."""
    return {"name": AGENT_RULE_TITLE, "active": True, "match_type": "any",
            "conditions": [{"field_name": "tag_names", "operator": "in", "value": _category_tags(settings)},
                           {"field_name": "status", "operator": "in", "value": FRESHDESK_DONE_STATUSES}],
            "actions": [{**action, "content": FRESHDESK_AGENT_CONTENT}]}


def install_freshdesk(settings: Settings, *, dry_run: bool = False) -> Plan:
    """Find or create the ticket-creation rule with our secret header (and, in shadow / A/B
    mode, the ticket-update rule that reports agents' labels), then store the secret.

    The secret already configured is kept (deliveries in flight stay valid); a new one is drawn
    only on the first install.
    """
    if not (settings.freshdesk_base_url and settings.freshdesk_api_key):
        raise ConfigError("freshdesk_base_url and freshdesk_api_key are required")
    configured = settings.freshdesk_webhook_secret
    secret = configured.get_secret_value() if configured else secrets.token_urlsafe(32)

    def webhook(value: str) -> dict:
        return {"field_name": "trigger_webhook", "request_type": "POST", "url": _endpoint(settings, "freshdesk"),
                "content_type": "json", "content": FRESHDESK_CONTENT,
                "custom_headers": {settings.freshdesk_secret_header: value}}

    def rule(value: str) -> dict:
        return {"name": RULE_TITLE, "active": True,
                "conditions": [{"field_name": "tag_names", "operator": "not_in",
                                "value": [safe_tag(settings.guard_tag)]}],
                "actions": [webhook(value)]}

    # (collection, name, body for a secret): the creation rule; in shadow / A/B also the agents' rule
    rules = [(FRESHDESK_TICKET_CREATION_RULES, RULE_TITLE, rule)]
    if _leaves_tickets_to_agents(settings):
        rules.append((FRESHDESK_TICKET_UPDATE_RULES, AGENT_RULE_TITLE,
                      lambda value: _freshdesk_agent_rule(settings, webhook(value))))
    plan = Plan("freshdesk", [call for collection, _, body in rules for call in (
        ("GET", collection, None),
        (f"POST {collection}, or PUT", f"{collection}/{{id}} (found by name)", body("***")))],
        {"freshdesk_webhook_secret": "***"})
    if dry_run:
        return plan
    with _Api(settings.freshdesk_base_url, (settings.freshdesk_api_key.get_secret_value(), "X")) as api:
        for collection, name, body in rules:
            listed = api.call("GET", collection)
            ours = [r for r in (listed if isinstance(listed, list) else []) if r.get("name") == name]
            _upsert(api, ours, collection, None, body(secret))
    update_instance_file(settings.instance_dir, {"freshdesk_webhook_secret": secret})
    return plan
