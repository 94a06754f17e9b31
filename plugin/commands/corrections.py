"""`triage corrections list|export`: agents' re-labels of our categories, as a labelled file."""

from __future__ import annotations

import argparse
import time
from collections import Counter

from ..config import load_settings
from ..corrections import CorrectionStore, corrections_as_items
from ..datasets import write_labelled
from ..monitoring import parse_since


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("corrections", help="agents' corrections of our categories")
    sub = parser.add_subparsers(dest="corrections_command", metavar="ACTION", required=True)
    for name, func, help_ in (("list", run_list, "summary of corrections"),
                              ("export", run_export, "write corrections as a labelled CSV/JSONL")):
        p = sub.add_parser(name, help=help_)
        p.add_argument("--since", help="only the last N days/hours, e.g. 7d, 24h")
        p.add_argument("--instance-dir", help="instance directory (default: settings)")
        if name == "export":
            p.add_argument("--out", required=True, help="output file (.csv or .jsonl)")
        p.set_defaults(func=func)


def _load(args: argparse.Namespace):
    settings = load_settings({"instance_dir": args.instance_dir} if args.instance_dir else None)
    since = time.time() - parse_since(args.since) if args.since else None
    return CorrectionStore(settings.database).list(since=since)


def run_list(args: argparse.Namespace) -> int:
    corrections = _load(args)
    pairs = Counter((c.our_label, c.agent_label) for c in corrections)
    print(f"{len(corrections)} correction(s)")
    for (ours, agent), n in pairs.most_common():
        print(f"  {n:5}  {ours} -> {agent}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    corrections = _load(args)
    items = corrections_as_items(corrections)
    write_labelled(args.out, items)
    skipped = len(corrections) - len(items)
    print(f"wrote {len(items)} labelled item(s) to {args.out}"
          + (f" ({skipped} without text skipped)" if skipped else ""))
    return 0
