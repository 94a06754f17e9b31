"""The vendor-neutral view of a ticket that the job needs, and the protocol both clients follow."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Ticket:
    id: str
    subject: str
    text: str  # description as the vendor stores it (may be HTML); the pipeline normalises it
    tags: list[str] = field(default_factory=list)
    updated_at: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class WriteBack:
    """What a write-back did: ``written`` is False when the ticket already had everything (idempotent)."""

    tags: list[str]
    written: bool
    conflicts: int = 0


class HelpdeskClient(Protocol):
    vendor: str

    def get_ticket(self, ticket_id: str) -> Ticket: ...

    def write_back(self, ticket_id: str, wanted: list[str], owned: set[str],
                   category: str | None) -> WriteBack: ...
