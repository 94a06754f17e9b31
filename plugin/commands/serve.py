"""`triage serve`: the webhook receiver + embedded workers (the README's main command)."""

from __future__ import annotations

import argparse

from plugin.config import load_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("serve", help="run the webhook service with embedded workers (waitress + huey)")
    p.add_argument("--host", help="bind address (default: settings.host)")
    p.add_argument("--port", type=int, help="port, 0 = any free one (default: settings.port)")
    p.add_argument("--workers", type=int, help="job worker threads (default: settings.workers)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from plugin.local_llm import serving
    from webhooks.service import serve

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port), ("workers", args.workers)) if v is not None}
    announce = lambda line: print(line, flush=True)  # noqa: E731
    with serving(load_settings(overrides), announce=announce) as settings:  # local_llm: llama-server beside us
        return serve(settings, announce=announce)
