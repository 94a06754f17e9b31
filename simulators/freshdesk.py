"""A local Freshdesk: tickets API v2 subset plus automation rules that fire (unsigned) webhooks.

Per the contract: bare ticket objects (no envelope), Basic ``APIKEY:X`` auth, ``PUT`` tags
*replace* the list (no safe update), ``custom_fields`` keyed ``cf_*`` and validated against
configured choices (400 ``Validation failed``), integer status/priority, HTML descriptions,
per-minute account limits → 429 + ``Retry-After`` and ``X-RateLimit-*`` headers, and webhooks
retried at +5/+30/+60 min (scaled by ``retry_scale``). Automation rules per type
(``/api/v2/automations/{type}/rules``: list as a bare array, create, and ``/{id}``: show, partial
``PUT``, ``DELETE``) fire on ticket creation / updates.
"""

from __future__ import annotations

import base64
import hmac
import html
import json
import re
import time
from datetime import datetime, timezone
from typing import Any

from flask import request

from .helpdesk_base import HelpdeskSimulator

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_.]+)\s*\}\}")
STATUS = {2: "Open", 3: "Pending", 4: "Resolved", 5: "Closed"}
PRIORITY = {1: "Low", 2: "Medium", 3: "High", 4: "Urgent"}
TICKET_CREATION, TICKET_UPDATES = 1, 4  # automation_type_id values [U]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class FreshdeskSimulator(HelpdeskSimulator):
    vendor = "freshdesk"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, api_key: str = "sim-fd-key",
                 rate_limit_per_minute: int = 400, custom_field_choices: dict[str, list[str]] | None = None,
                 ticket_types: list[str] | None = None, retry_scale: float = 1.0) -> None:
        super().__init__(host, port, rate_limit_per_minute=rate_limit_per_minute)
        self.api_key = api_key
        self.custom_field_choices = custom_field_choices or {}
        self.ticket_types = ticket_types or ["Question", "Incident", "Problem", "Feature Request", "Refund"]
        self.retry_scale = retry_scale
        self.tickets: dict[int, dict[str, Any]] = {}
        self.rules: dict[int, list[dict[str, Any]]] = {TICKET_CREATION: [], TICKET_UPDATES: []}
        self._next_id = 0
        self._next_rule_id = 0
        self._routes()

    def create_ticket(self, subject: str, description: str, tags: list[str] | None = None, **fields: Any) -> dict:
        """Create a ticket as a customer email would (fires creation rules; not an API write)."""
        with self.lock:
            self._next_id += 1
            now = _iso(time.time())
            body = description if description.lstrip().startswith("<") else f"<div>{html.escape(description)}</div>"
            t = {"id": self._next_id, "subject": subject, "description": body,
                 "description_text": re.sub(r"<[^>]+>", "", html.unescape(body)),
                 "status": fields.pop("status", 2), "priority": fields.pop("priority", 1), "source": 1,
                 "type": fields.pop("type", "Question"), "tags": list(dict.fromkeys(tags or [])),
                 "custom_fields": {k: None for k in self.custom_field_choices}, "requester_id": 77000001,
                 "responder_id": None, "group_id": None, "spam": False, "created_at": now, "updated_at": now, **fields}
            self.tickets[t["id"]] = t
            self._fire(TICKET_CREATION, t, "{ticket_action:created}")
            return json.loads(json.dumps(t))

    def agent_update(self, ticket_id: int, *, add_tags: list[str] = (), status: int | None = None) -> None:
        """An agent edits the ticket in the UI (fires the ticket-update rules; not an API write)."""
        with self.lock:
            t = self.tickets[ticket_id]
            t["tags"] = list(dict.fromkeys(t["tags"] + list(add_tags)))
            if status is not None:
                t["status"] = status
            t["updated_at"] = _iso(time.time())
            self._fire(TICKET_UPDATES, t, "{ticket_action:updated}")

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        with self.lock:
            return json.loads(json.dumps(self.tickets[ticket_id]))

    # --- HTTP ---------------------------------------------------------------------------------
    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        h = {"X-Freshdesk-API-Version": "latest=v2; requested=v2", "X-RateLimit-Total": str(self.rate_limit_per_minute),
             "X-RateLimit-Remaining": str(self.remaining()), "X-RateLimit-Used-CurrentRequest": "1",
             "X-Request-Id": str(time.time_ns())}
        h.update(extra or {})
        return h

    def _guard(self):
        self.requests_seen.append((request.method, request.path))
        auth = request.headers.get("Authorization", "")
        ok = False
        if auth.startswith("Basic "):
            try:
                user = base64.b64decode(auth[6:]).decode().partition(":")[0]
                ok = hmac.compare_digest(user, self.api_key)
            except ValueError:
                ok = False
        if not ok:
            return self.json_response(401, {"code": "invalid_credentials", "message": "You have to be logged in to perform this action."})
        fault = self.take_fault(request.method, request.path)
        if fault:
            extra = {"Retry-After": str(int(fault.retry_after))} if fault.retry_after is not None else {}
            return self._reply(fault.status, fault.body or {"code": "injected", "message": "injected fault"}, extra)
        wait = self.rate_limited()
        if wait is not None:
            return self._reply(429, {"code": "rate_limited", "message": "Rate limit exceeded"},
                               {"Retry-After": str(int(wait))})
        return None

    def _routes(self) -> None:
        app = self.app
        app.before_request(self._guard)
        app.add_url_rule("/api/v2/tickets", "create", self._create, methods=["POST"])
        app.add_url_rule("/api/v2/tickets/<int:tid>", "ticket", self._ticket, methods=["GET", "PUT", "DELETE"])
        app.add_url_rule("/api/v2/automations/<int:kind>/rules", "rules", self._rules, methods=["GET", "POST"])
        app.add_url_rule("/api/v2/automations/<int:kind>/rules/<int:rid>", "rule", self._rule,
                         methods=["GET", "PUT", "DELETE"])

    def _invalid(self, field: str, message: str, code: str = "invalid_value"):
        return self._reply(400, {"description": "Validation failed",
                                 "errors": [{"field": field, "message": message, "code": code}]})

    def _create(self):
        data = request.get_json(silent=True) or {}
        if not data.get("subject") or not data.get("description"):
            return self._invalid("description" if data.get("subject") else "subject", "It should not be blank",
                                 "missing_field")
        t = self.create_ticket(data["subject"], data["description"], data.get("tags"))
        return self._reply(201, t, {"Location": f"{self.base_url}/api/v2/tickets/{t['id']}"})

    def _ticket(self, tid: int):
        with self.lock:
            t = self.tickets.get(tid)
            if t is None or t.get("deleted"):
                return self._reply(404, {"code": "not_found", "message": "Ticket not found"})
            if request.method == "GET":
                return self._reply(200, {k: v for k, v in t.items() if k != "deleted"})
            if request.method == "DELETE":
                t["deleted"] = True
                return self._reply(204, None)
            data = request.get_json(silent=True) or {}
            allowed = {"tags", "custom_fields", "type", "status", "priority", "subject"}
            for key in data:
                if key not in allowed:
                    return self._invalid(key, "Unexpected/invalid field in request", "invalid_field")
            for name, value in (data.get("custom_fields") or {}).items():
                if name not in self.custom_field_choices:
                    return self._invalid(f"custom_fields.{name}", "Unexpected/invalid field in request", "invalid_field")
                if value not in self.custom_field_choices[name]:
                    choices = ",".join(self.custom_field_choices[name])
                    return self._invalid(f"custom_fields.{name}", f"It should be one of these values: '{choices}'")
            if "type" in data and data["type"] not in self.ticket_types:
                return self._invalid("type", f"It should be one of these values: '{','.join(self.ticket_types)}'")
            if "tags" in data:
                t["tags"] = list(dict.fromkeys(str(x) for x in data["tags"]))  # replaces the list
            t["custom_fields"].update(data.get("custom_fields") or {})
            for key in ("type", "status", "priority", "subject"):
                if key in data:
                    t[key] = data[key]
            t["updated_at"] = _iso(time.time())
            self.writes[str(tid)] += 1
            self.last_write_at[str(tid)] = time.monotonic()
            self._fire(TICKET_UPDATES, t, "{ticket_action:updated}")
            return self._reply(200, t)

    def _rules(self, kind: int):
        if kind not in self.rules:
            return self._reply(404, {"code": "not_found", "message": "Unknown automation type"})
        if request.method == "GET":
            return self._reply(200, self.rules[kind])
        data = request.get_json(silent=True) or {}
        if not data.get("name") or not data.get("actions"):
            return self._invalid("actions", "It should not be blank", "missing_field")
        self._next_rule_id += 1
        rule = {**data, "id": self._next_rule_id, "active": data.get("active", True)}
        self.rules[kind].append(rule)
        return self._reply(201, rule)

    def _rule(self, kind: int, rid: int):
        rule = next((r for r in self.rules.get(kind, []) if r["id"] == rid), None)
        if rule is None:
            return self._reply(404, {"code": "not_found", "message": "Automation rule not found"})
        if request.method == "DELETE":
            self.rules[kind].remove(rule)
            return self._reply(204, None)
        if request.method == "PUT":  # partial update: the fields sent replace those stored
            data = request.get_json(silent=True) or {}
            if "actions" in data and not data["actions"]:
                return self._invalid("actions", "It should not be blank", "missing_field")
            rule.update({k: v for k, v in data.items() if k != "id"})
        return self._reply(200, rule)

    # --- automations → webhooks ---------------------------------------------------------------
    def _fire(self, kind: int, t: dict[str, Any], triggered_event: str) -> None:
        for rule in self.rules[kind]:
            if not rule.get("active", True):
                continue
            conditions = rule.get("conditions") or []
            match = any if rule.get("match_type") == "any" else all
            if conditions and not match(self._matches(c, t) for c in conditions):
                continue
            for action in rule["actions"]:
                if action.get("field_name") == "trigger_webhook":
                    self._send_webhook(action, t, triggered_event)

    @staticmethod
    def _matches(cond: dict[str, Any], t: dict[str, Any]) -> bool:
        """The conditions ``triage install`` uses: tags (not) in a list, status in a list."""
        field, op, value = cond.get("field_name"), cond.get("operator"), cond.get("value") or []
        if field == "tag_names" and op in ("in", "not_in"):
            return bool(set(value) & set(t["tags"])) == (op == "in")
        if field == "status" and op == "in":
            return t["status"] in value
        raise ValueError(f"simulated automation condition not supported: {cond}")

    def render(self, template: str, t: dict[str, Any], triggered_event: str) -> str:
        values = {"ticket.id": str(t["id"]), "ticket.subject": t["subject"], "ticket.description": t["description"],
                  "ticket.url": f"{self.base_url}/helpdesk/tickets/{t['id']}", "ticket.ticket_type": t.get("type") or "",
                  "ticket.status": STATUS.get(t["status"], str(t["status"])),
                  "ticket.priority": PRIORITY.get(t["priority"], str(t["priority"])),
                  "ticket.tags": ",".join(t["tags"]), "triggered_event": triggered_event,
                  "ticket.requester.name": "Jane Doe", "ticket.requester.email": "jane@example.com"}

        def sub(m: re.Match) -> str:
            return json.dumps(values[m.group(1)])[1:-1] if m.group(1) in values else m.group(0)
        return _PLACEHOLDER.sub(sub, template)

    def _send_webhook(self, action: dict[str, Any], t: dict[str, Any], triggered_event: str) -> None:
        content = action.get("content")
        template = content if isinstance(content, str) else json.dumps(content or {})
        body = self.render(template, t, triggered_event).encode()
        auth = action.get("auth") or {}

        def headers(raw: bytes, invocation: str) -> dict[str, str]:
            h = {"Content-Type": "application/json", "User-Agent": "Freshdesk"}
            h.update(action.get("custom_headers") or {})
            if auth.get("username") is not None:
                token = base64.b64encode(f"{auth['username']}:{auth.get('password', '')}".encode()).decode()
                h["Authorization"] = f"Basic {token}"
            return h
        delays = [300 * self.retry_scale, 1800 * self.retry_scale, 3600 * self.retry_scale]
        self.deliver(action["url"], body, headers, delays, lambda status, _h: status is None or status >= 300)
