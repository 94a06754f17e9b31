"""`triage export`: write TFLite / CoreML files for phones and verify them against the reference."""

from __future__ import annotations

import argparse
import json

from ..exceptions import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("export", help="export the fallback model to TFLite and/or CoreML")
    p.add_argument("--model", required=True, help="model directory (from `triage train`)")
    p.add_argument("--format", choices=["tflite", "coreml", "all"], default="all")
    p.add_argument("--out", help="output directory (default: the model directory)")
    p.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    from tflite_fallback.export import ExportError, export_model

    try:
        manifest = export_model(args.model, args.format, args.out)
    except ExportError as exc:
        print(f"triage export: {exc}")
        return 1
    except (OSError, ValueError) as exc:  # no model there, or not an exportable one
        raise ConfigError(str(exc)) from exc
    print(json.dumps({k: manifest[k] for k in ("model_version", "spec_version", "files", "max_abs_diff")},
                     indent=2))
    return 0
