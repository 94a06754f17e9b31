"""A local Zendesk: the API subset triage uses, plus triggers that deliver signed webhooks.

Faithful to the contract (../shared/docs/helpdesk-contracts.md): ``{"ticket": …}`` envelopes,
``.json`` suffix optional, Basic ``email/token:TOKEN`` or Bearer auth, tags lowercased / split on
whitespace / deduplicated, ``tags`` on PUT replaces the list, ``safe_update`` + ``updated_stamp``
→ 409, closed → 422, soft-deleted → 404, 30 updates per ticket per 10 min and an account limit per
minute → 429 + ``Retry-After`` and rate-limit headers, webhooks signed
``base64(HMAC-SHA256(secret, timestamp + body))`` and retried (timeouts ×5, 409 ×3, 429/503 when
Retry-After < 60 s). The admin API ``triage install`` uses: webhooks listed with cursor pages
(``page[size]``/``page[after]``, ``meta.has_more``, ``links.next``) and ``filter[name_contains]``,
``PUT``/``PATCH`` → 204 (the signing secret cannot be set that way), ``GET``/``POST`` of the signing
secret; triggers listed with offset pages (``next_page``), created, updated (``PUT``) and deleted.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from flask import request

from .helpdesk_base import HelpdeskSimulator

TEST_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
PER_TICKET_UPDATES = 30
PER_TICKET_WINDOW_S = 600
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_.]+)\s*\}\}")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def normalize_tags(values: Any) -> list[str]:
    """Zendesk's observed tag rules: split on whitespace, lowercase, dedup (order kept)."""
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for v in values or []:
        for part in str(v).lower().split():
            if part not in out:
                out.append(part)
    return out


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()).decode()


class ZendeskSimulator(HelpdeskSimulator):
    vendor = "zendesk"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, email: str = "agent@example.com",
                 api_token: str = "sim-token", rate_limit_per_minute: int = 700,
                 per_ticket_updates: int = PER_TICKET_UPDATES, escape_placeholders: bool = True,
                 account_id: int = 22129848) -> None:
        super().__init__(host, port, rate_limit_per_minute=rate_limit_per_minute)
        self.email, self.api_token = email, api_token
        self.per_ticket_updates = per_ticket_updates
        self.escape_placeholders = escape_placeholders
        self.account_id = account_id
        self.webhook_retry_delays = [0.2, 0.5, 1.0, 2.0, 4.0]  # up to 5 retries (timeouts; 409 in practice 3)
        self.tickets: dict[int, dict[str, Any]] = {}
        self.deleted: set[int] = set()
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.triggers: list[dict[str, Any]] = []
        self.list_page_size = 100  # default page[size] of list calls (Zendesk's maximum is 100)
        self._next_trigger_id = 360000000
        self.conflicts_to_inject: collections.Counter[int] = collections.Counter()
        self._updates: dict[int, collections.deque[float]] = collections.defaultdict(collections.deque)
        self._next_id = 1000
        self._routes()

    # --- state helpers used by tests and the demo ---------------------------------------------
    def _stamp(self, ticket: dict[str, Any] | None) -> str:
        now = time.time()
        if ticket is not None:  # updated_at has second resolution; keep it strictly increasing
            last = datetime.strptime(ticket["updated_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
            now = max(now, last + 1)
        return _iso(now)

    def create_ticket(self, subject: str, description: str, tags: list[str] | None = None,
                      **fields: Any) -> dict[str, Any]:
        """Create a ticket as a requester would (fires triggers, not counted as an API write)."""
        with self.lock:
            self._next_id += 1
            stamp = self._stamp(None)
            ticket = {"id": self._next_id, "url": f"{self.base_url}/api/v2/tickets/{self._next_id}.json",
                      "subject": subject, "raw_subject": subject, "description": description,
                      "status": fields.pop("status", "new"), "priority": fields.pop("priority", "normal"),
                      "type": fields.pop("type", "question"), "tags": normalize_tags(tags or []),
                      "custom_fields": [], "via": {"channel": "email"}, "requester_id": 8447388090494,
                      "created_at": stamp, "updated_at": stamp, **fields}
            ticket["fields"] = ticket["custom_fields"]
            self.tickets[ticket["id"]] = ticket
            self._fire(ticket, created=True)
            return dict(ticket)

    def agent_update(self, ticket_id: int, *, add_tags: list[str] = (), status: str | None = None) -> None:
        """An agent edits the ticket in the UI (bumps updated_at, fires the update triggers as
        Zendesk does; not counted as an API write)."""
        with self.lock:
            t = self.tickets[ticket_id]
            t["tags"] = normalize_tags(t["tags"] + list(add_tags))
            if status:
                t["status"] = status
            t["updated_at"] = self._stamp(t)
            self._fire(t, created=False)

    def inject_conflict(self, ticket_id: int, agent_tag: str = "agent_edit") -> None:
        """Before the next safe update of this ticket, an agent adds ``agent_tag`` (→ 409)."""
        with self.lock:
            self.conflicts_to_inject[ticket_id] += 1
            self._conflict_tag = agent_tag

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        with self.lock:
            return json.loads(json.dumps(self.tickets[ticket_id]))

    # --- HTTP ---------------------------------------------------------------------------------
    def _auth_ok(self) -> bool:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return hmac.compare_digest(auth[7:], self.api_token)
        if auth.startswith("Basic "):
            try:
                user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                return False
            return user == f"{self.email}/token" and hmac.compare_digest(pw, self.api_token)
        return False

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        rem = str(self.remaining())
        h = {"X-Zendesk-API-Version": "v2", "X-Rate-Limit": str(self.rate_limit_per_minute),
             "X-Rate-Limit-Remaining": rem, "ratelimit-limit": str(self.rate_limit_per_minute),
             "ratelimit-remaining": rem, "ratelimit-reset": "60"}
        h.update(extra or {})
        return h

    def _guard(self):
        """Auth, injected faults, account rate limit; returns a response to send instead, or None."""
        self.requests_seen.append((request.method, request.path))
        if not self._auth_ok():
            return self.json_response(401, {"error": "Couldn't authenticate you"})
        fault = self.take_fault(request.method, request.path)
        if fault:
            extra = {"Retry-After": str(int(fault.retry_after))} if fault.retry_after is not None else {}
            body = fault.body or ({"error": "APIRateLimitExceeded", "description": "Number of allowed API requests per minute exceeded"}
                                  if fault.status == 429 else {"error": "ServerError", "description": "injected"})
            return self._reply(fault.status, body, extra)
        wait = self.rate_limited()
        if wait is not None:
            return self._reply(429, {"error": "APIRateLimitExceeded",
                                     "description": "Number of allowed API requests per minute exceeded"},
                               {"Retry-After": str(int(wait))})
        return None

    def _routes(self) -> None:
        app = self.app
        app.url_map.strict_slashes = False
        app.before_request(self._guard)
        for suffix in ("", ".json"):
            app.add_url_rule(f"/api/v2/tickets{suffix}", f"create{suffix}", self._create, methods=["POST"])
            app.add_url_rule(f"/api/v2/tickets/<int:tid>{suffix}", f"ticket{suffix}", self._ticket,
                             methods=["GET", "PUT", "DELETE"])
            app.add_url_rule(f"/api/v2/tickets/<int:tid>/tags{suffix}", f"tags{suffix}", self._tags,
                             methods=["GET", "POST", "PUT", "DELETE"])
            app.add_url_rule(f"/api/v2/webhooks{suffix}", f"webhooks{suffix}", self._webhooks, methods=["GET", "POST"])
            app.add_url_rule(f"/api/v2/webhooks/<wid>{suffix}", f"webhook{suffix}", self._webhook,
                             methods=["GET", "PUT", "PATCH", "DELETE"])
            app.add_url_rule(f"/api/v2/webhooks/<wid>/signing_secret{suffix}", f"secret{suffix}",
                             self._secret, methods=["GET", "POST"])
            app.add_url_rule(f"/api/v2/triggers{suffix}", f"triggers{suffix}", self._triggers, methods=["GET", "POST"])
            app.add_url_rule(f"/api/v2/triggers/<int:trid>{suffix}", f"trigger{suffix}", self._trigger,
                             methods=["GET", "PUT", "DELETE"])

    def _create(self):
        data = (request.get_json(silent=True) or {}).get("ticket") or {}
        comment = data.get("comment") or {}
        ticket = self.create_ticket(data.get("subject", ""), comment.get("body") or data.get("description", ""),
                                    data.get("tags"))
        return self._reply(201, {"ticket": ticket, "audit": {"events": []}},
                           {"Location": f"{self.base_url}/api/v2/tickets/{ticket['id']}.json"})

    def _live(self, tid: int):
        t = self.tickets.get(tid)
        return None if t is None or tid in self.deleted else t

    def _not_found(self):
        return self._reply(404, {"error": "RecordNotFound", "description": "Not found"})

    def _ticket(self, tid: int):
        with self.lock:
            t = self._live(tid)
            if t is None:
                return self._not_found()
            if request.method == "GET":
                return self._reply(200, {"ticket": t})
            if request.method == "DELETE":
                self.deleted.add(tid)
                return self._reply(204, None)
            data = (request.get_json(silent=True) or {}).get("ticket") or {}
            blocked = self._update_blocked(t, data)
            if blocked is not None:
                return blocked
            changes = []
            if "tags" in data:
                changes.append({"type": "Change", "field_name": "tags", "value": normalize_tags(data["tags"]),
                                "previous_value": t["tags"]})
                t["tags"] = normalize_tags(data["tags"])
            for f in data.get("custom_fields") or data.get("fields") or []:
                t["custom_fields"] = [c for c in t["custom_fields"] if c["id"] != f["id"]] + [dict(f)]
                if isinstance(f.get("value"), str):  # dropdown value is a tag
                    t["tags"] = normalize_tags(t["tags"] + [f["value"]])
            t["fields"] = t["custom_fields"]
            for key in ("status", "priority", "type", "subject"):
                if key in data:
                    t[key] = data[key]
            return self._commit_update(t, changes)

    def _update_blocked(self, t: dict[str, Any], data: dict[str, Any]):
        tid = t["id"]
        if t["status"] == "closed":
            return self._reply(422, {"error": "RecordInvalid", "description": "Record validation errors",
                                     "details": {"status": [{"description": "Status: closed prevents ticket update"}]}})
        window = self._updates[tid]
        now = time.monotonic()
        while window and window[0] <= now - PER_TICKET_WINDOW_S:
            window.popleft()
        if len(window) >= self.per_ticket_updates:
            return self._reply(429, {"error": "APIRateLimitExceeded", "description": "per-ticket update limit"},
                               {"Retry-After": str(int(PER_TICKET_WINDOW_S - (now - window[0])) + 1),
                                "zendesk-ratelimit-per-ticket-updates":
                                    f"total={self.per_ticket_updates}; remaining=0; resets=600"})
        if self.conflicts_to_inject[tid] > 0:
            self.conflicts_to_inject[tid] -= 1
            self.agent_update(tid, add_tags=[getattr(self, "_conflict_tag", "agent_edit")])
        if data.get("safe_update") is not None and data.get("updated_stamp") != t["updated_at"]:
            return self._reply(409, {"error": "UpdateConflict",
                                     "description": "Safe Update prevented the update due to outdated ticket data."})
        window.append(now)
        return None

    def _commit_update(self, t: dict[str, Any], changes: list[dict[str, Any]]):
        t["updated_at"] = self._stamp(t)
        self.writes[str(t["id"])] += 1
        self.last_write_at[str(t["id"])] = time.monotonic()
        self._fire(t, created=False)
        remaining = self.per_ticket_updates - len(self._updates[t["id"]])
        return self._reply(200, {"ticket": t, "audit": {"events": changes}},
                           {"zendesk-ratelimit-per-ticket-updates":
                            f"total={self.per_ticket_updates}; remaining={remaining}; resets=600"})

    def _tags(self, tid: int):
        with self.lock:
            t = self._live(tid)
            if t is None:
                return self._not_found()
            if request.method == "GET":
                return self._reply(200, {"tags": t["tags"]})
            data = request.get_json(silent=True) or {}
            given = normalize_tags(data.get("tags") or request.args.get("tags", "").replace(",", " "))
            blocked = self._update_blocked(t, data)
            if blocked is not None:
                return blocked
            if request.method == "POST":
                t["tags"] = given
            elif request.method == "PUT":
                t["tags"] = normalize_tags(t["tags"] + given)
            else:
                t["tags"] = [x for x in t["tags"] if x not in given]
            self._commit_update(t, [])
            status = 201 if request.method == "POST" else 200
            return self._reply(status, {"tags": t["tags"]})

    _WEBHOOK_FIELDS = ("name", "endpoint", "http_method", "request_format", "status")

    def _public(self, hook: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in hook.items() if not k.startswith("_")}

    def _webhooks(self):
        if request.method == "GET":
            return self._list_webhooks()
        data = (request.get_json(silent=True) or {}).get("webhook") or {}
        missing = [k for k in self._WEBHOOK_FIELDS if not data.get(k)]
        if missing:
            return self._reply(400, {"error": {"title": "Invalid webhook", "message": f"missing {missing}"}})
        wid = uuid.uuid4().hex[:26].upper()
        secret = (data.get("signing_secret") or {}).get("secret") or secrets.token_urlsafe(32)
        hook = {k: v for k, v in data.items() if k != "signing_secret"}
        hook.update(id=wid, created_at=_iso(time.time()), _secret=secret)
        self.webhooks[wid] = hook
        return self._reply(201, {"webhook": self._public(hook)})

    def _list_webhooks(self):
        """Cursor pagination (``page[size]``, ``page[after]``), ``filter[name_contains]``, as the API."""
        needle = request.args.get("filter[name_contains]", "").lower()
        hooks = [self._public(h) for h in self.webhooks.values() if needle in str(h.get("name", "")).lower()]
        size = max(1, min(int(request.args.get("page[size]") or self.list_page_size), 100))
        after = request.args.get("page[after]")
        start = next((i + 1 for i, h in enumerate(hooks) if h["id"] == after), 0) if after else 0
        page = hooks[start:start + size]
        more = start + size < len(hooks)
        cursor = page[-1]["id"] if page else None
        nxt = (f"{self.base_url}/api/v2/webhooks?page[size]={size}&page[after]={cursor}"
               + (f"&filter[name_contains]={needle}" if needle else "")) if more else None
        return self._reply(200, {"webhooks": page, "meta": {"has_more": more, "after_cursor": cursor if more else None,
                                                            "before_cursor": page[0]["id"] if page else None},
                                 "links": {"next": nxt, "prev": None}})

    def _webhook(self, wid: str):
        if wid not in self.webhooks:
            return self._not_found()
        if request.method == "DELETE":
            del self.webhooks[wid]
            return self._reply(204, None)
        if request.method in ("PUT", "PATCH"):  # signing_secret cannot be changed this way
            data = (request.get_json(silent=True) or {}).get("webhook") or {}
            data = {k: v for k, v in data.items() if k not in ("id", "created_at", "signing_secret")}
            hook = self.webhooks[wid]
            if request.method == "PUT":
                missing = [k for k in self._WEBHOOK_FIELDS if not data.get(k)]
                if missing:
                    return self._reply(400, {"error": {"title": "Invalid webhook", "message": f"missing {missing}"}})
                kept = {k: v for k, v in hook.items() if k.startswith("_") or k in ("id", "created_at")}
                self.webhooks[wid] = {**data, **kept}
            else:
                hook.update(data)
            return self._reply(204, None)
        return self._reply(200, {"webhook": self._public(self.webhooks[wid])})

    def _secret(self, wid: str):
        if wid not in self.webhooks:
            return self._not_found()
        if request.method == "POST":
            self.webhooks[wid]["_secret"] = secrets.token_urlsafe(32)
        return self._reply(200, {"signing_secret": {"algorithm": "sha256", "secret": self.webhooks[wid]["_secret"]}})

    def _invalid_trigger(self):
        return self._reply(422, {"error": "RecordInvalid", "description": "Record validation errors",
                                 "details": {"base": [{"description": "title and actions are required"}]}})

    def _triggers(self):
        if request.method == "GET":  # offset pagination: next_page / previous_page / count
            page_no = max(1, int(request.args.get("page") or 1))
            size = max(1, min(int(request.args.get("per_page") or self.list_page_size), 100))
            items = self.triggers[(page_no - 1) * size:page_no * size]
            more = page_no * size < len(self.triggers)
            return self._reply(200, {"triggers": items, "count": len(self.triggers),
                                     "next_page": f"{self.base_url}/api/v2/triggers.json?page={page_no + 1}&per_page={size}"
                                     if more else None, "previous_page": None})
        data = (request.get_json(silent=True) or {}).get("trigger") or {}
        if not data.get("title") or not data.get("actions"):
            return self._invalid_trigger()
        self._next_trigger_id += 1
        trig = {**data, "id": self._next_trigger_id, "active": data.get("active", True)}
        self.triggers.append(trig)
        return self._reply(201, {"trigger": trig})

    def _trigger(self, trid: int):
        trig = next((t for t in self.triggers if t["id"] == trid), None)
        if trig is None:
            return self._not_found()
        if request.method == "DELETE":
            self.triggers.remove(trig)
            return self._reply(204, None)
        if request.method == "PUT":  # the attributes sent replace those stored
            data = (request.get_json(silent=True) or {}).get("trigger") or {}
            if "title" in data and not data["title"] or "actions" in data and not data["actions"]:
                return self._invalid_trigger()
            trig.update({k: v for k, v in data.items() if k != "id"})
        return self._reply(200, {"trigger": trig})

    # --- triggers → webhooks ------------------------------------------------------------------
    def _matches(self, cond: dict[str, Any], t: dict[str, Any], created: bool) -> bool:
        field, op, value = cond.get("field"), cond.get("operator"), cond.get("value")
        if field == "update_type":
            return (value == "Create") == created if op == "is" else (value == "Create") != created
        if field == "current_tags":
            present = any(v in t["tags"] for v in str(value).split())
            return present if op == "includes" else not present
        if field == "status":
            return (t["status"] == value) == (op == "is")
        return True

    def _fire(self, t: dict[str, Any], *, created: bool) -> None:
        for trig in self.triggers:
            conds = trig.get("conditions") or {}
            if not trig.get("active", True):
                continue
            if not all(self._matches(c, t, created) for c in conds.get("all", [])):
                continue
            if conds.get("any") and not any(self._matches(c, t, created) for c in conds["any"]):
                continue
            for action in trig["actions"]:
                if action.get("field") == "notification_webhook":
                    wid, body = action["value"][0], action["value"][1]
                    if wid in self.webhooks:
                        self._send_webhook(self.webhooks[wid], self.render(body, t).encode())

    def render(self, template: str, t: dict[str, Any]) -> str:
        """Placeholders as plain strings; tags space-separated; display-case words."""
        values = {"ticket.id": str(t["id"]), "ticket.title": t["subject"], "ticket.description": t["description"],
                  "ticket.tags": " ".join(t["tags"]), "ticket.status": str(t["status"]).capitalize(),
                  "ticket.priority": str(t.get("priority") or "").capitalize(),
                  "ticket.ticket_type": str(t.get("type") or "").capitalize(), "ticket.via": "Mail",
                  "ticket.url": f"{self.host}/agent/tickets/{t['id']}", "ticket.updated_at": t["updated_at"],
                  "ticket.requester.email": "requester@example.com", "ticket.requester.name": "Sam Requester"}

        def sub(m: re.Match) -> str:
            if m.group(1) not in values:
                return m.group(0)  # unknown placeholders stay unfilled, as in Zendesk
            v = values[m.group(1)]
            return json.dumps(v)[1:-1] if self.escape_placeholders else v
        return _PLACEHOLDER.sub(sub, template)

    def _send_webhook(self, hook: dict[str, Any], body: bytes) -> None:
        def headers(raw: bytes, invocation: str) -> dict[str, str]:
            ts = _iso(time.time())
            return {"Content-Type": "application/json", "X-Zendesk-Webhook-Signature": sign(hook["_secret"], ts, raw),
                    "X-Zendesk-Webhook-Signature-Timestamp": ts, "X-Zendesk-Webhook-Id": hook["id"],
                    "X-Zendesk-Webhook-Invocation-Id": invocation, "X-Zendesk-Account-Id": str(self.account_id)}

        def retry_on(status: int | None, resp_headers: dict) -> bool:
            if status is None or status == 409:
                return True
            if status in (429, 503):
                try:
                    return float(resp_headers.get("Retry-After", "999")) < 60
                except ValueError:
                    return False
            return False
        self.deliver(hook["endpoint"], body, headers, list(self.webhook_retry_delays), retry_on)
