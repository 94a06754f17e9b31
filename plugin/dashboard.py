"""The numbers behind the admin dashboard (``/admin``), gathered from the stores in one place.

Nothing here computes a rate of its own: volume and decisions over time and the score histogram
come from ``plugin.monitoring`` (as do the drift rules, the same ones ``/metrics`` and
``triage report`` use), agreement and per-category precision from ``plugin.agreement``, the
suggested categories from ``plugin.taxonomy_audit``. Tickets are shown with their redacted text
only (what the rollout table keeps), never the raw text.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from .agreement import rollout_summary
from .config import Settings
from .corrections import CorrectionStore
from .fallback import sentence_encoder
from .monitoring import load_distribution, score_histogram, timeline, window_stats
from .registry import active_model_dir
from .rollout import RolloutStore
from .store import EventStore
from .taxonomy import load_taxonomy
from .taxonomy_audit import audit, items_from_store

RECENT = 25  # tickets in the "last tickets" table
TEXT_CHARS = 160  # of each ticket's redacted text
BUCKETS = 14  # bars in the volume chart
DASHBOARD_POOL = 600  # newest other / needs-review tickets the dashboard clusters (the CLI takes more)


def dashboard_data(settings: Settings, events: EventStore, *, since_s: float | None = None,
                   now: float | None = None) -> dict[str, Any]:
    """Everything the dashboard shows, as plain data (the page and ``/admin/data.json``)."""
    now = time.time() if now is None else now
    since_s = since_s or settings.monitor_window_s
    start = now - since_s
    taxonomy = load_taxonomy(settings.taxonomy)
    rollout = RolloutStore(settings.database)
    corrections = CorrectionStore(settings.database).list(since=start)
    recent_events = [ev for ev in events.events(since=start) if ev.label is not None]
    stats = window_stats(events, since_s=since_s, other=taxonomy.other, now=now, corrections=len(corrections),
                         training=load_distribution(active_model_dir(settings)))
    agreement = rollout_summary(events, rollout, corrections, taxonomy, mode=settings.rollout_mode,
                                ab_live_share=settings.ab_live_share, since_s=since_s, now=now)
    handled = rollout.tickets(since=start)
    corrected: dict[str, int] = {}
    for c in corrections:
        corrected[c.our_label] = corrected.get(c.our_label, 0) + 1
    last = []
    for ev in reversed(recent_events[-RECENT:]):
        row = handled.get(ev.id)
        last.append({"at": ev.created_at, "at_text": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(ev.created_at)),
                     "vendor": ev.vendor, "ticket_id": ev.ticket_id, "label": ev.label,
                     "score": ev.score, "decision": ev.decision, "state": str(ev.state),
                     "path": row.path if row else (ev.classifier or ""), "group": row.grp if row else "",
                     "text": (row.text if row else "")[:TEXT_CHARS]})
    items = items_from_store(recent_events, handled, rollout.activity(since=start))
    report = audit(items, taxonomy, encoder=sentence_encoder(active_model_dir(settings)), max_pool=DASHBOARD_POOL)
    return {
        "window_s": since_s, "now": now, "mode": settings.rollout_mode, "ab_live_share": settings.ab_live_share,
        "stats": asdict(stats),
        "timeline": timeline(recent_events, start=start, end=now, buckets=BUCKETS, other=taxonomy.other),
        "histogram": score_histogram(recent_events),
        "thresholds": {"auto_apply": taxonomy.thresholds.auto_apply, "suggest": taxonomy.thresholds.suggest},
        "agreement": agreement.as_dict(),
        "corrected_by_label": corrected,
        "recent": last,
        "audit": {"other_rate": report.other_rate, "verdict": report.verdict, "pool": report.pool,
                  "unused": report.unused,
                  "suggestions": [{"name": s.name, "size": s.size, "terms": s.terms, "examples": s.examples[:3],
                                   "toml": s.toml()} for s in report.suggestions]},
    }
