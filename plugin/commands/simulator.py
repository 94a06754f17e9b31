"""`triage simulator KIND`: run a local fake of an external service (for demos and manual tests).

Each kind is a sub-command; add one by adding a ``_register_<kind>`` function to ``KINDS``.
"""

from __future__ import annotations

import argparse
from typing import Callable


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("simulator", help="run a local fake service (OpenAI-compatible LLM, ...)")
    sub = parser.add_subparsers(dest="simulator_kind", metavar="KIND", required=True)
    for add in KINDS:
        add(sub)


def _register_openai(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("openai", help="OpenAI-compatible /v1/chat/completions with a keyword model")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    p.add_argument("--api-key", help="require this bearer token")
    p.add_argument("--fault", default="ok", help="default behaviour: ok, slow, timeout, rate_limit, "
                   "server_error, truncated, invalid_json, bad_label, refusal, no_logprobs")
    p.set_defaults(func=_run_openai)


def _run_openai(args: argparse.Namespace) -> int:
    from simulators.openai_server import OpenAISimulator

    sim = OpenAISimulator(args.host, args.port, api_key=args.api_key)
    sim.set_default(args.fault)
    print(f"OpenAI-compatible simulator on http://{args.host}:{sim.port}/v1  (Ctrl-C to stop)", flush=True)
    print(f"  export TRIAGE_LLM_BASE_URL=http://{args.host}:{sim.port}/v1 TRIAGE_LLM_MODEL=sim-keyword-1", flush=True)
    try:
        sim.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def _register_helpdesks(sub: argparse._SubParsersAction) -> None:
    for kind in ("zendesk", "freshdesk"):
        p = sub.add_parser(kind, help=f"local {kind.capitalize()} API subset + webhook delivery")
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
        p.set_defaults(func=_run_helpdesk, helpdesk=kind)


def _run_helpdesk(args: argparse.Namespace) -> int:
    from simulators.freshdesk import FreshdeskSimulator
    from simulators.zendesk import ZendeskSimulator

    sim = (ZendeskSimulator if args.helpdesk == "zendesk" else FreshdeskSimulator)(args.host, args.port).start()
    cred = (f"email {sim.email}, API token {sim.api_token}" if args.helpdesk == "zendesk"
            else f"API key {sim.api_key}")
    print(f"{args.helpdesk} simulator on {sim.base_url}  ({cred}; Ctrl-C to stop)", flush=True)
    try:
        sim.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


KINDS: list[Callable[[argparse._SubParsersAction], None]] = [_register_openai, _register_helpdesks]
