"""`triage classify TEXT`: classify one ticket and print one JSON object (the Result)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..config import load_settings
from ..pipeline import Pipeline


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("classify", help="classify one ticket and print the result as JSON")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("text", nargs="?", help="ticket text; `-` reads stdin")
    src.add_argument("--file", help="read the ticket text from a file (plain text or HTML)")
    p.add_argument("--subject", help="ticket subject line")
    p.add_argument("--classifier", choices=["auto", "llm", "fallback", "cascade"], help="default: settings")
    p.add_argument("--taxonomy", help="taxonomy TOML (default: settings)")
    p.add_argument("--model-dir", help="fallback model directory (default: settings)")
    p.add_argument("--prompt", help="prompt template name or .j2 path (default: settings)")
    p.add_argument("--index-dir", help="retrieval index for few-shot examples (default: settings)")
    p.add_argument("--indent", type=int, default=None, help="pretty-print with this indent")
    p.set_defaults(func=_classify)


def _classify(args: argparse.Namespace) -> int:
    if args.file:
        text = Path(args.file).read_text("utf-8", errors="replace")
    elif args.text == "-":
        text = sys.stdin.read()
    else:
        text = args.text
    overrides: dict[str, Any] = {}
    for arg, field in (("classifier", "classifier"), ("taxonomy", "taxonomy"), ("model_dir", "model_dir"),
                       ("prompt", "prompt_template"), ("index_dir", "index_dir")):
        if getattr(args, arg):
            overrides[field] = getattr(args, arg)
    pipeline = Pipeline.from_settings(load_settings(overrides))
    result = pipeline.classify(text, subject=args.subject)
    print(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=args.indent))
    return 0
