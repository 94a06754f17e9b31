"""Zendesk REST client: read a ticket, merge our tags in with one safe update.

Write-back is ``GET`` → merge → one ``PUT /api/v2/tickets/{id}`` carrying the full tag list with
``safe_update`` + ``updated_stamp``; a 409 means someone changed the ticket in between, so we read
and merge again (up to ``max_conflicts``). If the ticket already carries exactly what we want, no
PUT is sent: that makes a re-run after a crash a no-op.
"""

from __future__ import annotations

from plugin.config import Settings
from plugin.exceptions import ConfigError, HelpdeskError

from .tags import merge_tags
from .ticket import Ticket, WriteBack
from .transport import ConflictError, Transport

DEFAULT_MAX_CONFLICTS = 5


class ZendeskClient:
    vendor = "zendesk"

    def __init__(self, base_url: str, email: str, api_token: str, *, category_field_id: int | None = None,
                 max_conflicts: int = DEFAULT_MAX_CONFLICTS, timeout_s: float = 10.0) -> None:
        self.http = Transport(base_url, (f"{email}/token", api_token), timeout_s=timeout_s, vendor="zendesk")
        self.category_field_id = category_field_id
        self.max_conflicts = max_conflicts

    @classmethod
    def from_settings(cls, settings: Settings) -> "ZendeskClient":
        if not (settings.zendesk_base_url and settings.zendesk_email and settings.zendesk_api_token):
            raise ConfigError("zendesk_base_url, zendesk_email and zendesk_api_token are required")
        return cls(settings.zendesk_base_url, settings.zendesk_email,
                   settings.zendesk_api_token.get_secret_value(),
                   category_field_id=settings.zendesk_category_field_id if settings.write_category_field else None)

    def get_ticket(self, ticket_id: str) -> Ticket:
        t = self.http.request("GET", f"/api/v2/tickets/{ticket_id}.json")["ticket"]
        return Ticket(id=str(t["id"]), subject=t.get("subject") or t.get("raw_subject") or "",
                      text=t.get("description") or "", tags=list(t.get("tags") or []),
                      updated_at=t.get("updated_at"), status=(t.get("status") or "").lower() or None)

    def _field_value(self, raw: dict) -> object:
        for f in raw.get("custom_fields") or []:
            if f.get("id") == self.category_field_id:
                return f.get("value")
        return None

    def write_back(self, ticket_id: str, wanted: list[str], owned: set[str],
                   category: str | None) -> WriteBack:
        conflicts = 0
        while True:
            raw = self.http.request("GET", f"/api/v2/tickets/{ticket_id}.json")["ticket"]
            current = list(raw.get("tags") or [])
            merged = merge_tags(current, wanted, owned)
            body: dict = {"tags": merged, "safe_update": True, "updated_stamp": raw.get("updated_at")}
            field_done = True
            if self.category_field_id is not None and category is not None:
                field_done = self._field_value(raw) == category
                body["custom_fields"] = [{"id": self.category_field_id, "value": category}]
            if set(merged) == set(current) and field_done:
                return WriteBack(tags=merged, written=False, conflicts=conflicts)
            try:
                self.http.request("PUT", f"/api/v2/tickets/{ticket_id}.json", json={"ticket": body})
                return WriteBack(tags=merged, written=True, conflicts=conflicts)
            except ConflictError:
                conflicts += 1
                if conflicts > self.max_conflicts:
                    raise HelpdeskError(f"zendesk ticket {ticket_id}: still conflicting after "
                                        f"{conflicts} safe-update retries", status=409, retryable=True)
