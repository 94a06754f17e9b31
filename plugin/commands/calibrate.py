"""`triage calibrate`: pick thresholds from labelled data and write them to the taxonomy file.

Decision thresholds (auto_apply, suggest) for a target precision of auto-applied labels; with
``--cascade-accuracy`` or ``--cascade-llm-share`` also the cascade threshold (fallback first, the
LLM for the rest). Calibrate on a validation split (``--split val``), not on training data.
``--write`` puts the decision thresholds into the taxonomy file and the cascade threshold, when
one was picked, into the instance config ``<instance_dir>/triage.toml`` (key ``cascade_threshold``,
other keys kept).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

from ..exceptions import ConfigError
from ..taxonomy import dump_thresholds
from ..thresholds import cascade_threshold, decision_thresholds
from .eval import add_classifier_args, add_data_args, evaluate_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("calibrate", help="choose thresholds for a target precision; write the taxonomy",
                              description=__doc__.splitlines()[0])
    add_data_args(p)
    add_classifier_args(p)
    p.add_argument("--target-precision", type=float, default=0.95,
                   help="precision auto-applied labels must reach (default 0.95)")
    p.add_argument("--suggest-precision", type=float,
                   help="precision for suggestions (default: half-way between 0.5 and the target)")
    p.add_argument("--min-items", type=int, default=5, help="fewest items a threshold may rest on")
    p.add_argument("--floor", type=float, default=0.5, help="lowest auto_apply threshold allowed (default 0.5)")
    p.add_argument("--write", action="store_true", help="write the thresholds into the taxonomy file (and a "
                   "picked cascade threshold into <instance_dir>/triage.toml)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--cascade-accuracy", type=float, help="also pick the cascade threshold for this "
                   "fallback accuracy on the tickets it keeps")
    g.add_argument("--cascade-llm-share", type=float, help="also pick the cascade threshold that sends "
                   "about this share of tickets to the LLM")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    wants_cascade = args.cascade_accuracy is not None or args.cascade_llm_share is not None
    preds, summary, taxonomy, settings = evaluate_from_args(args)
    choice = decision_thresholds(preds, taxonomy, args.target_precision, args.suggest_precision, args.min_items,
                                  args.floor)
    out: dict = {"thresholds": asdict(choice), "accuracy": summary["accuracy"], "n": summary["n"],
                 "current": taxonomy.thresholds.model_dump()}
    if wants_cascade:
        fb_preds = preds
        if settings.classifier != "fallback":
            fb_preds, _, _, _ = evaluate_from_args(args, classifier="fallback")
        cascade = cascade_threshold(fb_preds, target_accuracy=args.cascade_accuracy, llm_share=args.cascade_llm_share)
        out["cascade"] = asdict(cascade)
    notes: list[str] = []
    if args.write:
        has_taxonomy_file = settings.taxonomy != "default" and Path(settings.taxonomy).is_file()
        if not has_taxonomy_file and not wants_cascade:
            raise ConfigError("--write needs a taxonomy file (--taxonomy PATH or `taxonomy` in settings); "
                              "copy plugin/defaults/taxonomy.toml and point at it")
        if has_taxonomy_file:
            dump_thresholds(settings.taxonomy, choice.auto_apply, choice.suggest)
            out["written_to"] = settings.taxonomy
        else:
            notes.append("decision thresholds not written: the bundled taxonomy is read-only "
                         "(--taxonomy PATH to write them)")
        if wants_cascade:
            out["cascade_written_to"] = str(write_cascade_threshold(settings.instance_dir,
                                                                    out["cascade"]["threshold"]))
            notes += _shadowed_notes(Path(out["cascade_written_to"]))
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    c = choice
    print(f"calibrated on {c.n} items (accuracy {summary['accuracy']:.1%}), target precision {args.target_precision:.0%}")
    if not c.auto_apply_reached:
        print(f"  no threshold reaches {args.target_precision:.0%} precision on >= {args.min_items} items: "
              "auto-apply is switched off (auto_apply = 1.0)")
    print(f"  auto_apply = {c.auto_apply:.4f}  -> auto-applies {c.auto_coverage:.1%} of tickets at precision "
          f"{(c.auto_precision or 0):.1%}")
    print(f"  suggest    = {c.suggest:.4f}  -> auto-applied or suggested {c.suggest_coverage:.1%} at precision "
          f"{(c.suggest_precision or 0):.1%}")
    print(f"  (was auto_apply = {taxonomy.thresholds.auto_apply}, suggest = {taxonomy.thresholds.suggest})")
    if "cascade" in out:
        cc = out["cascade"]
        print(f"  cascade_threshold = {cc['threshold']:.4f}  -> LLM share {cc['llm_share']:.1%}, fallback accuracy "
              f"on the rest {(cc['fallback_accuracy'] or 0):.1%}"
              + ("" if args.write else "; --write stores it in the instance's triage.toml"))
    if "written_to" in out:
        print(f"wrote thresholds to {settings.taxonomy}")
    if "cascade_written_to" in out:
        print(f"wrote cascade_threshold = {out['cascade']['threshold']} to {out['cascade_written_to']}")
    return 0


def write_cascade_threshold(instance_dir: str | Path, threshold: float) -> Path:
    """Upsert ``cascade_threshold`` in ``<instance_dir>/triage.toml`` (other keys and comments kept),
    through the one TOML writer (atomic, owner-only: the same file holds the secrets)."""
    from ..instance import instance_file, update_instance_file

    update_instance_file(instance_dir, {"cascade_threshold": float(threshold)})
    return instance_file(instance_dir)


def _shadowed_notes(written: Path) -> list[str]:
    """Why the value just written might not be the one the service reads."""
    notes = []
    config = os.environ.get("TRIAGE_CONFIG")
    if config and Path(config).resolve() != written.resolve():
        notes.append(f"TRIAGE_CONFIG={config} is read instead of {written}; set cascade_threshold there")
    if os.environ.get("TRIAGE_CASCADE_THRESHOLD"):
        notes.append("TRIAGE_CASCADE_THRESHOLD is set and overrides the file")
    return notes
