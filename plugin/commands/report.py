"""`triage report --since 7d`: live quality from the event store, with warnings when rules are crossed,
and the rollout audit (agreement with agents, would-be auto-apply, recommended thresholds, A/B)."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict

from ..agreement import render_rollout_text, rollout_summary
from ..config import load_settings
from ..corrections import CorrectionStore
from ..monitoring import load_distribution, parse_since, window_stats
from ..registry import active_model_dir
from ..rollout import RolloutStore
from ..store import EventStore
from ..taxonomy import load_taxonomy


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("report", help="other-rate, needs-review rate, drift and corrections over a window")
    p.add_argument("--since", default="7d", help="window, e.g. 7d, 24h (default 7d)")
    p.add_argument("--instance-dir", help="instance directory (default: settings)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings({"instance_dir": args.instance_dir} if args.instance_dir else None)
    try:
        since_s = parse_since(args.since)
    except ValueError as exc:
        raise SystemExit(f"triage report: {exc}") from None
    corrections = CorrectionStore(settings.database).list(since=time.time() - since_s)
    training = load_distribution(active_model_dir(settings))
    events, taxonomy = EventStore(settings.database), load_taxonomy(settings.taxonomy)
    s = window_stats(events, since_s=since_s, other=taxonomy.other, training=training, corrections=len(corrections))
    rollout = rollout_summary(events, RolloutStore(settings.database), corrections, taxonomy,
                              mode=settings.rollout_mode, ab_live_share=settings.ab_live_share, since_s=since_s)
    if args.json:
        print(json.dumps({**asdict(s), "rollout": rollout.as_dict()}, indent=2))
        return 0
    cost = (s.prompt_tokens * settings.price_per_1k_prompt_tokens
            + s.completion_tokens * settings.price_per_1k_completion_tokens) / 1000
    print(f"== last {args.since}: {s.n} classified tickets")
    print(f"other-rate {s.other_rate:.1%}   needs-review {s.needs_review_rate:.1%}   "
          f"corrections {s.corrections} ({s.correction_rate:.1%})   "
          f"label PSI {'-' if s.psi is None else f'{s.psi:.3f}'}"
          + ("" if training else " (no training distribution stored with the active model)"))
    print(f"classifiers {s.classifiers}   models {s.model_versions}")
    print(f"tokens {s.prompt_tokens} prompt + {s.completion_tokens} completion = ${cost:.4f}")
    if s.labels:
        top = sorted(s.labels.items(), key=lambda kv: -kv[1])[:15]
        print("labels: " + ", ".join(f"{k} {v / s.n:.0%}" for k, v in top))
    for w in s.warnings:
        print(f"WARNING: {w}")
    if not s.warnings:
        print("no warnings" if s.n >= 20 else "too few tickets for warnings")
    print("\n".join(render_rollout_text(rollout)))
    return 0
