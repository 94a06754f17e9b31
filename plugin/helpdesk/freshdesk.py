"""Freshdesk REST client: read a ticket, read-merge-write its tags.

Freshdesk's ``PUT /api/v2/tickets/{id}`` replaces the whole tag list and has no safe-update, so we
GET, merge and PUT the full list straight away (a short window). Skipped when nothing would change,
so a re-run after a crash writes nothing.
"""

from __future__ import annotations

from plugin.config import Settings
from plugin.exceptions import ConfigError

from .tags import merge_tags
from .ticket import Ticket, WriteBack
from .transport import Transport

STATUS_NAMES = {2: "open", 3: "pending", 4: "resolved", 5: "closed"}


class FreshdeskClient:
    vendor = "freshdesk"

    def __init__(self, base_url: str, api_key: str, *, category_field: str | None = None,
                 timeout_s: float = 10.0) -> None:
        self.http = Transport(base_url, (api_key, "X"), timeout_s=timeout_s, vendor="freshdesk")
        self.category_field = category_field

    @classmethod
    def from_settings(cls, settings: Settings) -> "FreshdeskClient":
        if not (settings.freshdesk_base_url and settings.freshdesk_api_key):
            raise ConfigError("freshdesk_base_url and freshdesk_api_key are required")
        return cls(settings.freshdesk_base_url, settings.freshdesk_api_key.get_secret_value(),
                   category_field=settings.freshdesk_category_field if settings.write_category_field else None)

    def _get(self, ticket_id: str) -> dict:
        return self.http.request("GET", f"/api/v2/tickets/{ticket_id}")

    def get_ticket(self, ticket_id: str) -> Ticket:
        t = self._get(ticket_id)
        status = t.get("status")
        return Ticket(id=str(t["id"]), subject=t.get("subject") or "",
                      text=t.get("description") or t.get("description_text") or "",
                      tags=list(t.get("tags") or []), updated_at=t.get("updated_at"),
                      status=STATUS_NAMES.get(status, str(status).lower() if status is not None else None))

    def write_back(self, ticket_id: str, wanted: list[str], owned: set[str],
                   category: str | None) -> WriteBack:
        raw = self._get(ticket_id)
        current = list(raw.get("tags") or [])
        merged = merge_tags(current, wanted, owned)
        body: dict = {"tags": merged}
        field_done = True
        if self.category_field and category is not None:
            field_done = (raw.get("custom_fields") or {}).get(self.category_field) == category
            body["custom_fields"] = {self.category_field: category}
        if set(merged) == set(current) and field_done:
            return WriteBack(tags=merged, written=False)
        self.http.request("PUT", f"/api/v2/tickets/{ticket_id}", json=body)
        return WriteBack(tags=merged, written=True)
