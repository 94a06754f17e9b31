"""`triage label`: soft labels from the LLM path, to distil the fallback (`triage train --soft`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tqdm import tqdm

from ..config import load_settings
from ..pipeline import Pipeline


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("label", help="label tickets with the LLM to distil the fallback model")
    p.add_argument("--data", required=True, help="CSV/JSONL with a text column, or one ticket per line")
    p.add_argument("--text-col", help="text column (default: text/utterance/body/...)")
    p.add_argument("--out", required=True, help="soft-label JSONL to write")
    p.add_argument("--taxonomy", help="taxonomy TOML (default: settings)")
    p.add_argument("--include-fallback", action="store_true",
                   help="keep rows the fallback answered (LLM down); default: drop them")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_label)


def _label(args: argparse.Namespace) -> int:
    from tflite_fallback.teacher import read_texts, soft_labels

    settings = load_settings({"taxonomy": args.taxonomy} if args.taxonomy else None)
    if not settings.llm_configured and not args.include_fallback:
        print("triage label: no LLM configured (TRIAGE_LLM_BASE_URL / TRIAGE_LLM_MODEL); nothing to learn from")
        return 2
    pipeline = Pipeline.from_settings(settings)
    texts = read_texts(args.data, args.text_col)
    written = 0
    with Path(args.out).open("w", encoding="utf-8") as fh:
        for row in soft_labels(pipeline.classify, tqdm(texts, desc="labelling", disable=args.quiet),
                               include_fallback=args.include_fallback):
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            written += 1
    print(f"wrote {written} of {len(texts)} rows to {args.out}")
    return 0 if written else 1
