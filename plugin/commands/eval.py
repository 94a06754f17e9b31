"""`triage eval`: measure a classifier + prompt on labelled tickets (table, JSON, HTML).

Also holds the argument and loading helpers that `compare` and `calibrate` share, so the three
commands read data and build classifiers the same way.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
from pathlib import Path
from typing import Any

from ..config import Settings, load_settings
from ..datasets import Item, load_labelled, map_to_taxonomy, stratified_split, taxonomy_toml_from_labels
from ..evaluation import (Prediction, classifier_from_settings, load_prices, predict, predictions_to_jsonl,
                          summarize)
from ..exceptions import ConfigError
from ..fallback import load_fallback
from ..replay import recording
from ..report import render_html, render_text
from ..taxonomy import Taxonomy, load_taxonomy, parse_taxonomy


def add_data_args(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    """--data, columns, split and sample options (``required=False``: --data may be left out)."""
    p.add_argument("--data", required=required, help="labelled CSV/JSONL file or seq.in+label folder")
    p.add_argument("--text-col", help="text column (default: text, utterance, body, ...)")
    p.add_argument("--label-col", help="label column (default: label, category, intent, ...)")
    p.add_argument("--split", choices=["all", "train", "val"], default="all",
                   help="use a seeded stratified split of the file (default: all rows)")
    p.add_argument("--val-fraction", type=float, default=0.2, help="validation share for --split")
    p.add_argument("--seed", type=int, default=0, help="seed for the split and --limit sample")
    p.add_argument("--limit", type=int, help="evaluate a seeded random sample of N items")


def add_classifier_args(p: argparse.ArgumentParser, *, single: bool = True) -> None:
    """Classifier, prompt, model, taxonomy, price table, record/replay."""
    if single:
        p.add_argument("--classifier", choices=["auto", "llm", "fallback", "cascade"],
                       help="which classifier (default: settings)")
        p.add_argument("--prompt", help="prompt template name (prompts/) or path to a .j2 file")
        p.add_argument("--cascade-threshold", type=float,
                       help="cascade: the fallback answers at this calibrated score or above (default: settings)")
    p.add_argument("--model-dir", help="fallback model directory (default: settings)")
    p.add_argument("--taxonomy", help="taxonomy TOML, `default`, or `auto` (one category per data label)")
    p.add_argument("--prices", help="price table (TOML/JSON: model -> {prompt, completion} per 1k tokens)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--record", metavar="DIR", help="record LLM calls to DIR (replays ones already there)")
    g.add_argument("--replay", metavar="DIR", help="replay LLM calls from DIR; never touches the network")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def settings_from_args(args: argparse.Namespace, **extra: Any) -> Settings:
    """Settings with the command-line choices layered on top (they win over file and env)."""
    overrides: dict[str, Any] = {}
    if getattr(args, "classifier", None):
        overrides["classifier"] = args.classifier
    if getattr(args, "prompt", None):
        overrides["prompt_template"] = args.prompt
    if getattr(args, "model_dir", None):
        overrides["model_dir"] = args.model_dir
    if getattr(args, "cascade_threshold", None) is not None:
        overrides["cascade_threshold"] = args.cascade_threshold
    if getattr(args, "taxonomy", None) and args.taxonomy != "auto":
        overrides["taxonomy"] = args.taxonomy
    overrides.update({k: v for k, v in extra.items() if v is not None})
    return load_settings(overrides)


def load_items(args: argparse.Namespace, settings: Settings) -> tuple[list[Item], Taxonomy, Settings]:
    """Read, split, sample and map the labelled data; resolve ``--taxonomy auto``.

    Returns the items (labels are taxonomy categories), the taxonomy and the settings. ``auto``
    builds the taxonomy in memory (nothing written) from every label in the file plus, when the
    fallback model can answer, the model's own classes: a class the file happens to lack stays a
    class instead of being folded into ``other``, which would bias a subset evaluation.
    """
    items = load_labelled(args.data, args.text_col, args.label_col)
    all_labels = [it.label for it in items]
    if args.split != "all":
        train, val = stratified_split(items, args.val_fraction, args.seed)
        items = train if args.split == "train" else val
    if args.limit and args.limit < len(items):
        picked = set(random.Random(args.seed).sample(range(len(items)), args.limit))
        items = [it for i, it in enumerate(items) if i in picked]
    if getattr(args, "taxonomy", None) == "auto":
        labels = all_labels + _model_classes(settings)
        taxonomy = parse_taxonomy(taxonomy_toml_from_labels(labels), source="<taxonomy auto>")
    else:
        taxonomy = load_taxonomy(settings.taxonomy)
    return map_to_taxonomy(items, taxonomy), taxonomy, settings


def _model_classes(settings: Settings) -> list[str]:
    """The fallback model's classes when this run may use it (not for a pure LLM run)."""
    if settings.classifier == "llm":
        return []
    try:
        return list(load_fallback(settings.model_dir).classes_)
    except ConfigError:
        return []  # no readable model: the classifier will say so itself


def quiet_http_logs() -> None:
    """One INFO line per HTTP request would bury the progress bar and the report."""
    for name in ("httpx", "httpx2", "openai", "vcr"):
        logging.getLogger(name).setLevel(logging.WARNING)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("eval", help="evaluate a classifier/prompt on labelled tickets",
                              description=__doc__.splitlines()[0])
    add_data_args(p)
    add_classifier_args(p)
    p.add_argument("--json", action="store_true", help="print the JSON summary instead of tables")
    p.add_argument("--html", metavar="OUT", help="write a self-contained HTML report")
    p.add_argument("--predictions", metavar="OUT", help="write per-item predictions (JSONL)")
    p.set_defaults(func=run)


def evaluate_from_args(args: argparse.Namespace, **extra: Any) -> tuple[list[Prediction], dict[str, Any],
                                                                        Taxonomy, Settings]:
    """Load items, classify them (recording/replaying if asked) and summarise."""
    quiet_http_logs()
    settings = settings_from_args(args, **extra)
    items, taxonomy, settings = load_items(args, settings)
    classify = classifier_from_settings(settings, taxonomy)
    with recording(args.record, args.replay):
        preds = predict(items, classify, progress=not args.no_progress, desc="eval")
    return preds, summarize(preds, taxonomy, load_prices(settings, args.prices)), taxonomy, settings


def run(args: argparse.Namespace) -> int:
    preds, summary, taxonomy, settings = evaluate_from_args(args)
    meta = {"data": str(args.data), "split": args.split, "classifier": settings.classifier,
            "prompt": settings.prompt_template, "model": settings.model_dir,
            "taxonomy": "auto" if args.taxonomy == "auto" else settings.taxonomy}
    if settings.classifier == "cascade":
        meta["cascade_threshold"] = settings.cascade_threshold
    summary["meta"] = meta
    if args.predictions:
        predictions_to_jsonl(preds, args.predictions)
    if args.html:
        Path(args.html).write_text(render_html(summary, title="Triage evaluation", meta=meta), "utf-8")
        print(f"wrote {args.html}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(render_text(summary, title=f"eval {args.data} ({settings.classifier}, {settings.prompt_template})"))
    return 0
