"""`triage demo`: start helpdesk simulators + the service, create dataset tickets, show their tags."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="end-to-end demo against local Zendesk/Freshdesk simulators")
    p.add_argument("--data", type=Path, default=Path("../shared/data"), help="datasets folder (default ../shared/data)")
    p.add_argument("-n", type=int, default=8, help="number of tickets")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for tags")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from simulators.demo import run_demo

    return run_demo(args.data, args.n, args.timeout, out=lambda line: print(line, flush=True))
