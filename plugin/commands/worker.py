"""`triage worker`: a standalone job consumer (for Redis deployments with several machines)."""

from __future__ import annotations

import argparse

from plugin.config import load_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("worker", help="run job workers only (queue_backend=redis for several machines)")
    p.add_argument("--workers", type=int, help="worker threads (default: settings.workers)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from webhooks.service import work

    overrides = {"workers": args.workers} if args.workers else {}
    return work(load_settings(overrides), announce=lambda line: print(line, flush=True))
