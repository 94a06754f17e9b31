"""`triage taxonomy lint|from-data|audit`: check a taxonomy, start one from a labelled file, or audit
it against recent traffic (the store) or a file, with suggested new categories as TOML."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import asdict

from ..config import load_settings
from ..datasets import load_labelled, map_to_taxonomy, taxonomy_toml_from_labels
from ..exceptions import ConfigError
from ..private_files import atomic_write_text
from ..taxonomy import load_taxonomy, parse_taxonomy
from ..taxonomy_lint import lint
from .eval import add_classifier_args, add_data_args, evaluate_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("taxonomy", help="lint a taxonomy, or generate one from labelled data")
    sub = parser.add_subparsers(dest="taxonomy_command", metavar="ACTION", required=True)
    p = sub.add_parser("lint", help="look-alike categories, 'other' too frequent, too few examples")
    add_data_args(p, required=False)  # without --data only the static checks run
    p.set_defaults(data=None)
    add_classifier_args(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_lint)
    g = sub.add_parser("from-data", help="write a starter taxonomy with one category per data label")
    g.add_argument("--data", required=True)
    g.add_argument("--text-col")
    g.add_argument("--label-col")
    g.add_argument("--out", required=True, help="taxonomy TOML to write")
    g.set_defaults(func=run_from_data)
    a = sub.add_parser("audit", help="other-rate, confused and unused categories, suggested new categories")
    a.add_argument("--since", default="30d", help="window of recent traffic from the store (default 30d)")
    a.add_argument("--instance-dir", help="instance directory (default: settings)")
    add_data_args(a, required=False)  # --data: audit a file, classified now, instead of the store
    a.set_defaults(data=None)
    add_classifier_args(a)
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=run_audit)


def run_lint(args: argparse.Namespace) -> int:
    settings = load_settings({"taxonomy": args.taxonomy} if args.taxonomy and args.taxonomy != "auto" else None)
    taxonomy = load_taxonomy(settings.taxonomy)
    summary, counts = None, None
    if args.data:
        _, summary, taxonomy, _ = evaluate_from_args(args)
        labelled = map_to_taxonomy(load_labelled(args.data, args.text_col, args.label_col), taxonomy)
        counts = dict(Counter(it.label for it in labelled))
    findings = lint(taxonomy, summary, counts)
    if args.json:
        print(json.dumps([asdict(f) for f in findings], indent=2))
    else:
        for f in findings:
            print(f"{f.level:5}  {f.code:22} {f.message}")
        print(f"{len(findings)} finding(s)" if findings else "taxonomy looks fine")
    return 1 if any(f.level in ("warn", "audit") for f in findings) else 0


def run_from_data(args: argparse.Namespace) -> int:
    items = load_labelled(args.data, args.text_col, args.label_col)
    if not items:
        raise ConfigError(f"no labelled rows in {args.data}")
    examples: dict[str, list[str]] = {}
    for it in sorted(items, key=lambda it: len(it.text)):  # the shortest are the clearest examples
        if len(examples.setdefault(it.label, [])) < 2 and len(it.text) >= 15:
            examples[it.label].append(it.text)
    text = taxonomy_toml_from_labels([it.label for it in items], examples=examples)
    tax = parse_taxonomy(text, args.out)
    out = atomic_write_text(args.out, text, mode=None)  # a taxonomy holds no secret: keep/0644
    print(f"wrote {out}: {len(tax.names)} categories (edit the descriptions before using it with an LLM)")
    return 0


def run_audit(args: argparse.Namespace) -> int:
    """Audit over the store's recent traffic, or over ``--data`` classified with the settings' classifier."""
    import time

    from ..fallback import sentence_encoder
    from ..monitoring import parse_since
    from ..registry import active_model_dir
    from ..rollout import RolloutStore
    from ..store import EventStore
    from ..taxonomy_audit import AuditItem, audit, items_from_store, render_audit_text

    overrides = {"instance_dir": args.instance_dir} if args.instance_dir else {}
    if args.taxonomy and args.taxonomy != "auto":
        overrides["taxonomy"] = args.taxonomy
    settings = load_settings(overrides or None)
    if args.data:
        preds, _, taxonomy, _ = evaluate_from_args(args)
        items = [AuditItem(p.id, p.text, p.label, p.score, p.decision, gold=p.gold) for p in preds]
    else:
        try:
            since = time.time() - parse_since(args.since)
        except ValueError as exc:
            raise SystemExit(f"triage taxonomy audit: {exc}") from None
        taxonomy = load_taxonomy(settings.taxonomy)
        rollout = RolloutStore(settings.database)
        items = items_from_store(EventStore(settings.database).events(since=since), rollout.tickets(since=since),
                                 rollout.activity(since=since))
    report = audit(items, taxonomy, encoder=sentence_encoder(active_model_dir(settings)))
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    else:
        print(render_audit_text(report))
    return 1 if report.verdict == "audit" else 0
