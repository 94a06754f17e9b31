"""How our labels compare with agents' own routing, from the rollout audit data. Pure apart from reads.

In shadow mode (and in the manual A/B group) agents route by hand and we only record, so every
category an agent sets on such a ticket is a label to compare ours with: agreement overall and per
category (with a Wilson interval, since a shadow week gives few labels per category), the share
that the current thresholds would have auto-applied and how often those were right, and the
thresholds that would reach a target precision (``plugin.thresholds``, the same rule as
``triage calibrate``). Live tickets count as agreed unless an agent corrected them. The A/B
comparison reads the same data per group: time to an agent's first label, re-labels per ticket,
time to solved.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from .corrections import Correction
from .decide import decide
from .evaluation import Prediction
from .metrics import percentile, wilson_interval
from .rollout import DONE_STATUSES, LIVE, MANUAL, Activity, RolloutStore
from .store import EventState, EventStore
from .taxonomy import Taxonomy
from .thresholds import decision_thresholds

TARGET_PRECISION = 0.95  # what auto-applied labels should reach (the default promise to agents)
MIN_LABELLED = 20  # fewer agent labels than this: no threshold recommendation


@dataclass(frozen=True)
class Rate:
    """``k`` of ``n`` with its 95 % Wilson interval (``rate`` None when ``n`` is 0)."""

    k: int
    n: int
    rate: float | None
    low: float
    high: float

    @classmethod
    def of(cls, k: int, n: int) -> "Rate":
        low, high = wilson_interval(k, n)
        return cls(k, n, k / n if n else None, low, high)


@dataclass(frozen=True)
class GroupStats:
    """One A/B group's handling, from agents' recorded actions."""

    group: str
    tickets: int
    agent_labelled: int
    minutes_to_agent_label_p50: float | None
    relabels_per_ticket: float | None  # live: each agent label is a change from ours; manual: beyond the first
    solved: int
    hours_to_solved_p50: float | None


@dataclass
class RolloutSummary:
    mode: str
    ab_live_share: float
    agreement: Rate  # manual tickets an agent labelled: same category as ours
    per_category: list[dict[str, Any]] = field(default_factory=list)  # by our label
    would_auto_apply: Rate | None = None  # of labelled manual tickets, auto-applied at current thresholds
    auto_apply_precision: Rate | None = None
    current_thresholds: dict[str, float] = field(default_factory=dict)
    recommended: dict[str, Any] | None = None  # ThresholdChoice at TARGET_PRECISION, or None (too few)
    live_agreement: Rate | None = None  # routed live tickets no agent corrected
    groups: list[GroupStats] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _group(ev_state: EventState, handled_grp: str | None) -> str:
    return handled_grp or (MANUAL if ev_state == EventState.SHADOW else LIVE)


def rollout_summary(events: EventStore, rollout: RolloutStore, corrections: list[Correction], taxonomy: Taxonomy,
                    *, mode: str, ab_live_share: float, since_s: float, now: float | None = None,
                    target_precision: float = TARGET_PRECISION) -> RolloutSummary:
    """Agreement, would-be auto-apply, recommended thresholds and the A/B groups over a window."""
    start = (time.time() if now is None else now) - since_s
    handled = rollout.tickets(since=start)
    acts: dict[tuple[str, str], list[Activity]] = defaultdict(list)
    for a in rollout.activity(since=start):
        acts[(a.vendor, a.ticket_id)].append(a)
    corrected = {(c.vendor, c.ticket_id) for c in corrections if c.created_at >= start}
    preds: list[Prediction] = []
    live_routed = live_kept = 0
    by_group: dict[str, list[tuple[Any, list[Activity]]]] = {LIVE: [], MANUAL: []}
    for ev in events.events(since=start):
        if ev.label is None or ev.score is None or not ev.state.finished:
            continue
        row = handled.get(ev.id)
        grp = _group(ev.state, row.grp if row else None)
        if grp == MANUAL and ev.state != EventState.SHADOW:
            continue  # classified but not finished as a manual ticket (dead, skipped)
        ticket_acts = acts.get((ev.vendor, ev.ticket_id), [])
        by_group[grp].append((ev, ticket_acts))
        labels = [a.value for a in ticket_acts if a.kind == "label"]
        if grp == MANUAL and labels:
            preds.append(Prediction(id=ev.id, gold=labels[-1], label=ev.label, score=ev.score,
                                    decision=str(decide(ev.label, ev.score, taxonomy)), classifier=ev.classifier or ""))
        elif grp == LIVE and ev.state == EventState.WRITTEN_BACK:
            live_routed += 1
            live_kept += (ev.vendor, ev.ticket_id) not in corrected
    summary = RolloutSummary(mode=mode, ab_live_share=ab_live_share,
                             agreement=Rate.of(sum(p.correct for p in preds), len(preds)),
                             current_thresholds={"auto_apply": taxonomy.thresholds.auto_apply,
                                                 "suggest": taxonomy.thresholds.suggest})
    per: dict[str, list[Prediction]] = defaultdict(list)
    for p in preds:
        per[p.label].append(p)
    summary.per_category = [{"label": label, **asdict(Rate.of(sum(p.correct for p in ps), len(ps)))}
                            for label, ps in sorted(per.items(), key=lambda kv: (-len(kv[1]), kv[0]))]
    if preds:
        auto = [p for p in preds if p.decision == "auto_apply"]
        summary.would_auto_apply = Rate.of(len(auto), len(preds))
        summary.auto_apply_precision = Rate.of(sum(p.correct for p in auto), len(auto))
    if len(preds) >= MIN_LABELLED:
        summary.recommended = {"target_precision": target_precision,
                               **asdict(decision_thresholds(preds, taxonomy, target_precision))}
    if live_routed:
        summary.live_agreement = Rate.of(live_kept, live_routed)
    summary.groups = [_group_stats(g, rows) for g, rows in by_group.items() if rows]
    return summary


def _group_stats(group: str, rows: list[tuple[Any, list[Activity]]]) -> GroupStats:
    to_label, to_solved, relabels = [], [], []
    labelled = solved = 0
    for ev, ticket_acts in rows:
        labels = [a for a in ticket_acts if a.kind == "label"]
        done = [a for a in ticket_acts if a.kind == "status" and a.value in DONE_STATUSES]
        if labels:
            labelled += 1
            to_label.append((labels[0].created_at - ev.created_at) / 60.0)
        relabels.append(len(labels) if group == LIVE else max(0, len(labels) - 1))
        if done:
            solved += 1
            to_solved.append((done[0].created_at - ev.created_at) / 3600.0)
    return GroupStats(group=group, tickets=len(rows), agent_labelled=labelled,
                      minutes_to_agent_label_p50=percentile(to_label, 50) if to_label else None,
                      relabels_per_ticket=sum(relabels) / len(relabels) if relabels else None,
                      solved=solved, hours_to_solved_p50=percentile(to_solved, 50) if to_solved else None)


def _pct(r: Rate | None) -> str:
    if r is None or r.rate is None:
        return "-"
    return f"{r.rate:.1%} [{r.low:.0%}-{r.high:.0%}] ({r.k}/{r.n})"


def render_rollout_text(s: RolloutSummary) -> list[str]:
    """Lines for ``triage report``: agreement, would-be auto-apply, thresholds, the A/B groups."""
    live = "all tickets" if s.ab_live_share >= 1 else f"{s.ab_live_share:.0%} of tickets (A/B)"
    out = [f"rollout: {s.mode}" + ("" if s.mode == "shadow" else f", live for {live}"),
           f"agreement with agents {_pct(s.agreement)}   (manual tickets an agent labelled; 95% Wilson)"]
    if s.would_auto_apply is not None:
        out.append(f"at current thresholds (auto {s.current_thresholds['auto_apply']:.2f}, suggest "
                   f"{s.current_thresholds['suggest']:.2f}): would auto-apply {_pct(s.would_auto_apply)} "
                   f"at precision {_pct(s.auto_apply_precision)}")
    if s.live_agreement is not None:
        out.append(f"live: kept by agents {_pct(s.live_agreement)} (written tickets not corrected)")
    for c in s.per_category:
        out.append(f"  {c['label']:<16} agree {_pct(Rate(c['k'], c['n'], c['rate'], c['low'], c['high']))}")
    r = s.recommended
    if r is None:
        out.append(f"thresholds: too few agent labels to recommend (need {MIN_LABELLED}, have {s.agreement.n})")
    elif r["auto_apply_reached"]:
        out.append(f"recommended: auto_apply = {r['auto_apply']:.2f}, suggest = {r['suggest']:.2f} "
                   f"(auto-applies {r['auto_coverage']:.0%} at precision {r['auto_precision']:.1%}; "
                   f"target {r['target_precision']:.0%}; set them in the taxonomy's [thresholds])")
    else:
        out.append(f"recommended: no auto_apply threshold reaches {r['target_precision']:.0%} on agents' labels; "
                   f"keep suggesting (suggest = {r['suggest']:.2f})")
    for g in s.groups:
        out.append(f"group {g.group:<6} tickets {g.tickets}  agent-labelled {g.agent_labelled}  "
                   f"to first agent label p50 {_num(g.minutes_to_agent_label_p50, 'min')}  "
                   f"re-labels/ticket {_num(g.relabels_per_ticket, '')}  solved {g.solved} "
                   f"(p50 {_num(g.hours_to_solved_p50, 'h')})")
    return out


def _num(v: float | None, unit: str) -> str:
    return "-" if v is None else f"{v:.1f}{(' ' + unit) if unit else ''}"
