"""`triage teacher install|status`: the pretrained sentence encoder behind the server tier and distillation."""

from __future__ import annotations

import argparse

from plugin.pinned_wheels import PinnedFileError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("teacher", help="install / check the sentence encoder (server tier, distillation)",
                              description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="teacher_command", metavar="ACTION", required=True)
    sub.add_parser("install", help="fetch the pinned all-MiniLM-L6-v2 weights (~83 MB) from the package index"
                   ).set_defaults(func=_install)
    sub.add_parser("status", help="show whether the weights are installed and intact").set_defaults(func=_status)


def _install(args: argparse.Namespace) -> int:
    from tflite_fallback import minilm

    path = minilm.install()
    print(f"{minilm.NAME}: {path} (sha256 verified; from {minilm.PINS['weights'].package}=="
          f"{minilm.PINS['weights'].version}, Apache-2.0 weights by the sentence-transformers team)")
    return 0


def _status(args: argparse.Namespace) -> int:
    from tflite_fallback import minilm

    try:
        ok = minilm.installed()
        state = f"{minilm.files_dir()} (sha256 ok)" if ok else f"not installed ({minilm.INSTALL_HINT})"
    except PinnedFileError as exc:
        ok, state = False, str(exc)
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import safetensors  # noqa: F401
        import tokenizers  # noqa: F401
        extra = "installed"
    except ImportError:
        ok, extra = False, "missing: pip install 'helpdesk-triage[teacher]'"
    print(f"{minilm.NAME}: {state}\nteacher extra (tokenizers, safetensors, onnx, onnxruntime): {extra}")
    return 0 if ok else 1
