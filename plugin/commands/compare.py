"""`triage compare`: two or more prompts/classifiers on the same items, side by side.

Shows headline numbers per variant, McNemar's paired test for each pair, and the items on which
the variants disagree.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

from ..evaluation import classifier_from_settings, load_prices, predict, summarize
from ..exceptions import ConfigError
from ..metrics import mcnemar
from ..replay import recording
from ..report import render_compare_text, render_html
from .eval import add_classifier_args, add_data_args, load_items, quiet_http_logs, settings_from_args

_VARIANT_KEYS = {"classifier": "classifier", "prompt": "prompt_template", "model": "model_dir",
                 "model_dir": "model_dir", "cascade_threshold": "cascade_threshold"}


def parse_variant(spec: str) -> tuple[str, dict[str, str]]:
    """``name=v2,classifier=llm,prompt=classify_v2`` -> ("v2", {settings overrides})."""
    fields = dict(part.split("=", 1) for part in spec.split(",") if "=" in part)
    if not fields:
        raise ConfigError(f"variant {spec!r}: expected key=value pairs, e.g. classifier=llm,prompt=classify_v2")
    name = fields.pop("name", None)
    unknown = set(fields) - set(_VARIANT_KEYS)
    if unknown:
        raise ConfigError(f"variant {spec!r}: unknown keys {sorted(unknown)}; use {sorted(_VARIANT_KEYS)}")
    overrides = {_VARIANT_KEYS[k]: v for k, v in fields.items()}
    return name or "/".join(fields.values()), overrides


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("compare", help="compare prompts/classifiers on the same items (McNemar)",
                              description=__doc__.splitlines()[0])
    add_data_args(p)
    add_classifier_args(p, single=False)
    p.add_argument("--prompts", nargs="+", metavar="PROMPT", help="prompt variants (with --classifier)")
    p.add_argument("--classifier", default="llm", choices=["auto", "llm", "fallback", "cascade"],
                   help="classifier for --prompts (default llm)")
    p.add_argument("--classifiers", nargs="+", choices=["auto", "llm", "fallback", "cascade"],
                   help="classifier variants")
    p.add_argument("--variant", action="append", default=[], metavar="SPEC",
                   help="name=..,classifier=..,prompt=..,model=..; repeat for each variant")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument("--html", metavar="PREFIX", help="write one HTML report per variant: PREFIX-<name>.html")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level for the verdict")
    p.set_defaults(func=run)


def _variants(args: argparse.Namespace) -> list[tuple[str, dict[str, str]]]:
    out = [parse_variant(v) for v in args.variant]
    out += [(pr, {"classifier": args.classifier, "prompt_template": pr}) for pr in args.prompts or []]
    out += [(c, {"classifier": c}) for c in args.classifiers or []]
    if len(out) < 2:
        raise ConfigError("compare needs at least two variants (--prompts A B, --classifiers A B or --variant ...)")
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise ConfigError(f"variant names must differ: {names}")
    return out


def run(args: argparse.Namespace) -> int:
    quiet_http_logs()
    variants = _variants(args)
    base = settings_from_args(args)
    items, taxonomy, base = load_items(args, base)
    names, summaries, runs = [], [], []
    with recording(args.record, args.replay):
        for name, overrides in variants:
            settings = base.model_validate({**base.model_dump(), **overrides})
            classify = classifier_from_settings(settings, taxonomy)
            preds = predict(items, classify, progress=not args.no_progress, desc=name)
            summaries.append(summarize(preds, taxonomy, load_prices(settings, args.prices)))
            names.append(name)
            runs.append(preds)
    pairs = []
    for (i, a), (j, b) in itertools.combinations(enumerate(names), 2):
        t = mcnemar([p.correct for p in runs[i]], [p.correct for p in runs[j]])
        better = a if t.b > t.c else b
        verdict = (f"{better} better (p<{args.alpha:g})" if t.p_exact < args.alpha
                   else "no significant difference")
        pairs.append({"a": a, "b_name": b, "b": t.b, "c": t.c, "p_exact": t.p_exact, "chi2": t.chi2,
                      "p_chi2": t.p_chi2, "verdict": verdict,
                      "accuracy_a": summaries[i]["accuracy"], "accuracy_b": summaries[j]["accuracy"]})
    disagreements = [
        {"id": it.id, "gold": it.label, "labels": [run[k].label for run in runs],
         "scores": [run[k].score for run in runs], "text": runs[0][k].text or it.text}
        for k, it in enumerate(items) if len({run[k].label for run in runs}) > 1]
    if args.html:
        for name, s in zip(names, summaries):
            out = Path(f"{args.html}-{_slug(name)}.html")
            out.write_text(render_html(s, title=f"Triage evaluation: {name}", meta={"data": str(args.data)}), "utf-8")
            print(f"wrote {out}", file=sys.stderr)
    if args.json:
        print(json.dumps({"variants": dict(zip(names, summaries)), "pairs": pairs,
                          "disagreements": disagreements}, indent=2))
    else:
        print(render_compare_text(names, summaries, pairs, disagreements))
    return 0


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
