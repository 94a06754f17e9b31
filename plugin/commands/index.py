"""`triage index --data FILE`: build the retrieval index of labelled examples (few-shot prompts)."""

from __future__ import annotations

import argparse
import time

from ..config import load_settings
from ..datasets import category_name, load_labelled, map_to_taxonomy
from ..retrieval import RetrievalIndex, default_index_dir
from ..taxonomy import load_taxonomy


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("index", help="build the few-shot retrieval index from labelled tickets")
    p.add_argument("--data", action="append", required=True,
                   help="labelled CSV/JSONL (repeat for training data + corrections)")
    p.add_argument("--text-col", help="text column (default: text, utterance, body, ...)")
    p.add_argument("--label-col", help="label column (default: label, category, intent, ...)")
    p.add_argument("--taxonomy", help="map labels onto this taxonomy (default: settings); "
                   "`auto` keeps dataset labels as category names")
    p.add_argument("--out", help="index directory (default: settings.index_dir or instance/index)")
    p.set_defaults(func=_index)


def _index(args: argparse.Namespace) -> int:
    settings = load_settings()
    items = [it for path in args.data for it in load_labelled(path, args.text_col, args.label_col)]
    if args.taxonomy == "auto":
        labels = [category_name(it.label) for it in items]
    else:
        items = map_to_taxonomy(items, load_taxonomy(args.taxonomy or settings.taxonomy))
        labels = [it.label for it in items]
    started = time.perf_counter()
    index = RetrievalIndex.build([it.text for it in items], labels)
    out = index.save(args.out or default_index_dir(settings))
    print(f"indexed {len(index)} examples ({len(set(labels))} labels) in {time.perf_counter() - started:.1f}s -> {out}")
    return 0
