"""The job: one stored event → ticket text → classify → write back → outcome in the store.

Exactly-once write-back under crashes comes from three facts:
1. the event row is claimed (lease) before any work, so duplicate queue entries do nothing;
2. the classification is stored *before* writing back, so a re-run reuses it;
3. write-back skips the PUT when the ticket already carries what we want.
A crash anywhere therefore either repeats harmless reads or finds the write already done.

Rollout (``plugin.rollout``): a ticket of the ``manual`` group (shadow mode, or outside the A/B
live share) is classified and recorded but nothing is written (at most the one internal shadow
tag the admin opted into); a later update of such a ticket is where agents' own labels are seen.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from typing import Callable

from plugin.config import Settings
from plugin.corrections import note_agent_edit
from plugin.exceptions import ConfigError, HelpdeskError, TriageError
from plugin.helpdesk.tags import category_tag, owned_tags, safe_tag, wanted_tags
from plugin.helpdesk.ticket import HelpdeskClient
from plugin.helpdesk.transport import NotFoundError
from plugin.result import Decision, Result
from plugin.rollout import MANUAL, RolloutStore, answer_path, group_for, shadow_tag
from plugin.store import Event, EventState, EventStore

log = logging.getLogger("webhooks.jobs")

Classify = Callable[[str, str | None], Result]
BUSY_RETRY_S = 1.0  # another event of the same ticket is being processed right now


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped; ``Retry-After`` wins when the vendor sends one."""

    max_attempts: int = 6
    base_s: float = 2.0
    cap_s: float = 600.0

    def delay(self, attempts: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait before attempt ``attempts + 1``, or None to give up (dead-letter)."""
        if attempts >= self.max_attempts:
            return None
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.cap_s)
        backoff = min(self.cap_s, self.base_s * 2 ** (attempts - 1))
        return backoff * random.uniform(0.8, 1.2)


@dataclass
class JobContext:
    """Everything a job needs, built once per worker process (see ``JobContext.from_settings``)."""

    settings: Settings
    store: EventStore
    classify: Classify
    clients: dict[str, HelpdeskClient]
    labels: list[str]
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    on_finish: Callable[[str, EventState], None] | None = None
    rollout: RolloutStore | None = None  # opened on first use beside the event store

    def rollout_store(self) -> RolloutStore:
        if self.rollout is None:
            self.rollout = RolloutStore(self.settings.database)
        return self.rollout

    @classmethod
    def from_settings(cls, settings: Settings, store: EventStore) -> "JobContext":
        from plugin.helpdesk.freshdesk import FreshdeskClient
        from plugin.helpdesk.zendesk import ZendeskClient
        from plugin.pipeline import Pipeline

        pipeline = Pipeline.from_settings(settings)
        clients: dict[str, HelpdeskClient] = {}
        for vendor, factory in (("zendesk", ZendeskClient), ("freshdesk", FreshdeskClient)):
            try:
                clients[vendor] = factory.from_settings(settings)
            except ConfigError:
                log.info("%s API not configured; its events will be dead-lettered", vendor)
        return cls(settings, store, pipeline.classify, clients, list(pipeline.taxonomy.names),
                   RetryPolicy(max_attempts=settings.max_attempts))


def run_event(ctx: JobContext, event_id: str) -> float | None:
    """Process one event; returns seconds after which it must run again, or None when done.

    Failures never raise: they become a retry or a dead event with the reason in ``last_error``.
    """
    store, cfg = ctx.store, ctx.settings
    event = store.claim(event_id, lease_s=cfg.lease_s)
    if event is None:
        current = store.get(event_id)
        if current is None or current.state not in (EventState.RECEIVED, EventState.RETRY):
            return None  # finished, or another worker holds it: this queue entry was a duplicate
        wait = (current.next_attempt_at or 0) - time.time() if current.state == EventState.RETRY else 0
        return wait if wait > 0 else BUSY_RETRY_S  # parked until Retry-After, or its ticket is busy
    client = ctx.clients.get(event.vendor)
    if client is None:
        return _finish(ctx, event_id, event.vendor, EventState.DEAD, error=f"{event.vendor} API not configured")
    try:
        ticket = client.get_ticket(event.ticket_id)
        label, decision = event.label, event.decision
        if label is None:
            if safe_tag(cfg.guard_tag) in ticket.tags:
                note_agent_edit(cfg, store, ctx.labels, vendor=event.vendor, ticket_id=event.ticket_id,
                                tags=ticket.tags, text=ticket.text)  # an agent's re-label (best effort)
                return _finish(ctx, event_id, event.vendor, EventState.SKIPPED, error="already classified (guard tag)")
            if _shadowed_before(store, event):  # an update of a ticket we left to agents
                note_agent_edit(cfg, store, ctx.labels, vendor=event.vendor, ticket_id=event.ticket_id,
                                tags=ticket.tags, status=ticket.status, rollout=ctx.rollout_store())
                return _finish(ctx, event_id, event.vendor, EventState.SKIPPED,
                               error="update of a manual (shadow) ticket: agent labels recorded")
            if ticket.status == "closed":
                return _finish(ctx, event_id, event.vendor, EventState.SKIPPED, error="ticket closed")
            result = ctx.classify(ticket.text, ticket.subject or None)
            store.record_classification(
                event_id, label=result.label, score=result.score, decision=str(result.decision),
                classifier=str(result.classifier), model_version=result.model_version,
                # Tokens are spend: only what an LLM call actually used (a fallback answer costs none).
                prompt_tokens=result.prompt_tokens if result.llm_called else 0,
                completion_tokens=result.completion_tokens,
                latency_ms=result.latency_ms)
            ctx.rollout_store().record_ticket(
                event_id, vendor=event.vendor, ticket_id=event.ticket_id, path=answer_path(result),
                grp=group_for(cfg, event.vendor, event.ticket_id), text=result.redacted_text)
            label, decision = result.label, str(result.decision)
        handled = ctx.rollout_store().ticket(event_id)  # the group chosen when it was classified
        if (handled.grp if handled else group_for(cfg, event.vendor, event.ticket_id)) == MANUAL:
            return _finish(ctx, event_id, event.vendor, EventState.SHADOW, tags=_shadow_write(ctx, event, label))
        wanted = wanted_tags(label, decision, prefix=cfg.tag_prefix, guard_tag=cfg.guard_tag,
                             needs_review_tag=cfg.needs_review_tag)
        owned = owned_tags(ctx.labels, prefix=cfg.tag_prefix, needs_review_tag=cfg.needs_review_tag)
        category = category_tag(cfg.tag_prefix, label) if decision == Decision.AUTO_APPLY else None
        if event.vendor == "freshdesk" and category is not None:
            category = label  # Freshdesk dropdown choices are display values, not tags
        done = client.write_back(event.ticket_id, wanted, owned, category)
        final = EventState.NEEDS_REVIEW if decision == Decision.NEEDS_REVIEW else EventState.WRITTEN_BACK
        return _finish(ctx, event_id, event.vendor, final, tags=done.tags)
    except NotFoundError:
        return _finish(ctx, event_id, event.vendor, EventState.SKIPPED, error="ticket not found")
    except HelpdeskError as exc:
        if not exc.retryable:
            return _finish(ctx, event_id, event.vendor, EventState.DEAD, error=str(exc))
        delay = ctx.policy.delay(event.attempts, getattr(exc, "retry_after", None))
        if delay is None:
            return _finish(ctx, event_id, event.vendor, EventState.DEAD,
                           error=f"gave up after {event.attempts} attempts: {exc}")
        store.schedule_retry(event_id, delay_s=delay, error=str(exc))
        log.info("event %s retry in %.1fs (attempt %d): %s", event_id, delay, event.attempts, exc)
        return delay
    except TriageError as exc:  # configuration or pipeline refused: retrying cannot help
        log.error("event %s failed: %s", event_id, exc)
        return _finish(ctx, event_id, event.vendor, EventState.DEAD, error=f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # unexpected (a bug, odd data): a few retries, then dead with the reason
        log.exception("event %s failed unexpectedly", event_id)
        delay = ctx.policy.delay(event.attempts)
        error = f"{type(exc).__name__}: {exc}"[:500]
        if delay is None:
            return _finish(ctx, event_id, event.vendor, EventState.DEAD, error=error)
        store.schedule_retry(event_id, delay_s=delay, error=error)
        return delay


def _shadowed_before(store: EventStore, event: Event) -> bool:
    """Whether an earlier event of this ticket was classified and left to agents (manual group)."""
    return any(ev.state == EventState.SHADOW and ev.id != event.id
               for ev in store.events(vendor=event.vendor, ticket_id=event.ticket_id))


def _shadow_write(ctx: JobContext, event: Event, label: str) -> list[str]:
    """Nothing, or (``shadow_tag = true``) only our one internal shadow tag; returns the tags written."""
    cfg = ctx.settings
    if not cfg.shadow_tag:
        return []
    owned = {shadow_tag(cfg.tag_prefix, name) for name in ctx.labels}
    wanted = [shadow_tag(cfg.tag_prefix, label)]
    ctx.clients[event.vendor].write_back(event.ticket_id, wanted, owned, None)
    return wanted


def _finish(ctx: JobContext, event_id: str, vendor: str, state: EventState, *,
            tags: list[str] | None = None, error: str | None = None) -> None:
    ctx.store.finish(event_id, state, tags_written=tags, error=error)
    log.info("event %s %s%s", event_id, state, f" ({error})" if error else "")
    if ctx.on_finish is not None:
        ctx.on_finish(vendor, state)
    return None
