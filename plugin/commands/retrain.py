"""`triage retrain` / `triage rollback`: a new fallback model from data + corrections, promoted only if not worse."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from .. import registry
from ..config import load_settings
from ..corrections import CorrectionStore, corrections_as_items
from ..datasets import load_labelled, map_to_taxonomy
from ..exceptions import ConfigError
from ..retrain import retrain
from ..taxonomy import load_taxonomy


def _param(text: str) -> tuple[str, object]:
    key, _, value = text.partition("=")
    if not key or not value:
        raise argparse.ArgumentTypeError("use KEY=VALUE, e.g. epochs=8")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("retrain", help="retrain the fallback on data + corrections; promote if not worse")
    p.add_argument("--data", required=True, help="the original labelled data (CSV/JSONL/folder)")
    p.add_argument("--text-col")
    p.add_argument("--label-col")
    p.add_argument("--corrections", help="extra labelled file (default: the instance's recorded corrections)")
    p.add_argument("--no-store-corrections", action="store_true", help="ignore the recorded corrections")
    p.add_argument("--soft", help="LLM soft labels (`triage label` JSONL) to distil from")
    p.add_argument("--holdout", help="labelled held-out file (default: a stratified share of all data)")
    p.add_argument("--holdout-fraction", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--param", type=_param, action="append", default=[], metavar="KEY=VALUE",
                   help="model parameter (epochs, dim, n_buckets, hidden, lr...)")
    p.add_argument("--tolerance", type=float, default=0.0, help="promote if accuracy >= current - tolerance")
    p.add_argument("--dry-run", action="store_true", help="evaluate only, never promote")
    p.add_argument("--no-index", action="store_true",
                   help="do not build the few-shot retrieval index beside the promoted model")
    p.add_argument("--taxonomy", help="taxonomy TOML (default: settings)")
    p.add_argument("--instance-dir", help="instance directory (default: settings)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_retrain)
    r = subparsers.add_parser("rollback", help="re-activate the previously promoted fallback model")
    r.add_argument("--instance-dir")
    r.set_defaults(func=run_rollback)


def _settings(args: argparse.Namespace):
    overrides = {}
    if getattr(args, "instance_dir", None):
        overrides["instance_dir"] = args.instance_dir
    if getattr(args, "taxonomy", None):
        overrides["taxonomy"] = args.taxonomy
    return load_settings(overrides)


def run_retrain(args: argparse.Namespace) -> int:
    settings = _settings(args)
    taxonomy = load_taxonomy(settings.taxonomy)
    original = map_to_taxonomy(load_labelled(args.data, args.text_col, args.label_col), taxonomy)
    corrections = []
    if args.corrections:
        corrections = map_to_taxonomy(load_labelled(args.corrections), taxonomy)
    elif not args.no_store_corrections:
        corrections = corrections_as_items(CorrectionStore(settings.database).list())
    holdout = map_to_taxonomy(load_labelled(args.holdout), taxonomy) if args.holdout else None
    soft = None
    if args.soft:
        from tflite_fallback.training import read_soft_labels

        soft = read_soft_labels(args.soft, taxonomy.names)
    if not original:
        raise ConfigError(f"no labelled rows in {args.data}")
    out = retrain(settings, taxonomy, original, corrections, holdout=holdout, holdout_fraction=args.holdout_fraction,
                  seed=args.seed, params=dict(args.param), tolerance=args.tolerance, promote=not args.dry_run,
                  soft=soft, progress=not args.json, build_index=not args.no_index)
    if args.json:
        d = asdict(out)
        for k in ("candidate", "current"):
            d[k] = {m: d[k][m] for m in ("accuracy", "macro_f1", "needs_review_rate", "other_rate")}
        print(json.dumps(d, indent=2))
    else:
        print(f"trained on {out.n_train} items ({out.n_corrections} corrections), held out {out.n_holdout}")
        print(f"  candidate {out.candidate_version}: accuracy {out.candidate['accuracy']:.2%}, "
              f"macro-F1 {out.candidate['macro_f1']:.2%}")
        print(f"  current   {out.current_version}: accuracy {out.current['accuracy']:.2%}, "
              f"macro-F1 {out.current['macro_f1']:.2%}")
        print(("PROMOTED: " if out.promoted else "not promoted: ") + out.reason)
        if out.promoted:
            print(f"  active model: {out.model_dir} (previous kept; `triage rollback` restores it)")
            if out.index_dir:
                print(f"  retrieval index: {out.n_index} examples -> {out.index_dir}")
    return 0 if out.promoted or args.dry_run else 1


def run_rollback(args: argparse.Namespace) -> int:
    settings = _settings(args)
    before = registry.current_version(settings)
    version = registry.rollback(settings)
    print(f"rolled back: {before} -> {version}")
    return 0
