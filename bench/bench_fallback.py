"""Fallback model benchmark: BANKING77 accuracy vs size, training time, latency, OOS abstention.

Usage: ``python bench/bench_fallback.py [--quick] [--data ../shared/data]``. Prints tables; the
numbers go into docs/fallback.md. Validation = a seeded 15 % split of BANKING77 train (the test
split is held back). Single process; the training arithmetic is numpy on however many cores
numpy's BLAS is allowed (set OMP_NUM_THREADS=2 to mimic a 2-core box).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plugin.datasets import load_labelled  # noqa: E402
from plugin.metrics import percentile  # noqa: E402
from tflite_fallback.calibration import expected_calibration_error  # noqa: E402
from tflite_fallback.export_tflite import build_tflite, litert_runner  # noqa: E402
from tflite_fallback.graph import dequantized_model, graph_weights  # noqa: E402
from tflite_fallback.model import HashBagClassifier  # noqa: E402

THRESHOLD = 0.6
BASE = dict(max_len=512, epochs=20, init_scale=0.1, dropout=0.3)
CONFIGS = {
    "tiny 4k x16": dict(BASE, n_buckets=1 << 12, dim=16),
    "small 16k x32": dict(BASE, n_buckets=1 << 14, dim=32),
    "default 16k x64": dict(BASE, n_buckets=1 << 14, dim=64),
    "wide 16k x96 +wd": dict(BASE, n_buckets=1 << 14, dim=96, weight_decay=1e-4),
    "max_len 256 16k x64": dict(BASE, n_buckets=1 << 14, dim=64, max_len=256),
}
QUICK = ("default 16k x64",)
OOS_SETTING = "default 16k x64"


def banking77(data: Path, seed: int = 0, val_fraction: float = 0.15):
    with (data / "banking77" / "train.csv").open(newline="", encoding="utf-8") as fh:
        rows = [(r["text"], r["category"]) for r in csv.DictReader(fh)]
    order = np.random.default_rng(seed).permutation(len(rows))
    n_val = int(len(rows) * val_fraction)
    val = [rows[i] for i in order[:n_val]]
    train = [rows[i] for i in order[n_val:]]
    return train, val


def p50_ms(fn, inputs, repeat: int = 1) -> float:
    times = []
    for x in inputs:
        t = time.perf_counter()
        for _ in range(repeat):
            fn(x)
        times.append((time.perf_counter() - t) / repeat * 1000)
    return percentile(times, 50)


def litert_p50_ms(flatbuffer: bytes, ids: np.ndarray) -> float:
    """Per-ticket latency of an exported ``.tflite`` in the LiteRT interpreter (after 20 warm-up rows)."""
    run = litert_runner(flatbuffer)
    for row in ids[:20]:
        run(row[None, :])
    return p50_ms(lambda row: run(row[None, :]), ids)


def accuracy_table(data: Path, names: tuple[str, ...]) -> dict[str, HashBagClassifier]:
    train, val = banking77(data)
    tx, ty = [t for t, _ in train], [y for _, y in train]
    vx, vy = [t for t, _ in val], [y for _, y in val]
    print(f"BANKING77: train {len(train)} (of which 10% calibrates T), validation {len(val)}")
    print("| setting | fp32 .tflite | int8 .tflite | val acc fp32 | val acc int8 | ECE | train s |"
          " py p50 ms | LiteRT p50 ms fp32 / int8 |")
    print("|---|---|---|---|---|---|---|---|---|")
    models = {}
    for name in names:
        m = HashBagClassifier(**CONFIGS[name])
        t0 = time.perf_counter()
        m.fit(tx, ty)
        train_s = time.perf_counter() - t0
        probs = m.predict_proba(vx)
        y = np.array([m.classes_.index(v) for v in vy])
        acc = float((probs.argmax(1) == y).mean())
        acc8 = float((dequantized_model(m).predict_proba(vx).argmax(1) == y).mean())
        ece = expected_calibration_error(probs, y)
        f32 = build_tflite(graph_weights(m), m.max_len)
        i8 = build_tflite(graph_weights(m, int8=True), m.max_len)
        py = p50_ms(lambda s: m.predict_proba([s]), vx[:300])
        ids = m.featurizer.transform(vx[:300])
        lite, lite8 = litert_p50_ms(f32, ids), litert_p50_ms(i8, ids)
        print(f"| {name} | {len(f32) / 1e6:.2f} MB | {len(i8) / 1e6:.2f} MB | "
              f"{acc:.4f} | {acc8:.4f} | {ece:.3f} | {train_s:.1f} | {py:.3f} | {lite:.3f} / {lite8:.3f} |",
              flush=True)
        models[name] = m
    return models


def seed_spread(data: Path, name: str, seeds: int) -> None:
    """Seed-to-seed spread of one setting: differences smaller than this are noise."""
    train, val = banking77(data)
    accs = []
    for seed in range(seeds):
        m = HashBagClassifier(**{**CONFIGS[name], "seed": seed}).fit([t for t, _ in train], [y for _, y in train])
        accs.append(m.score([t for t, _ in val], [y for _, y in val]))
    print(f"\n{name}: validation accuracy over seeds 0..{seeds - 1}: mean {np.mean(accs):.4f}, "
          f"sd {np.std(accs):.4f}, min {min(accs):.4f}, max {max(accs):.4f}")


def tfidf_baseline(data: Path) -> None:
    """The bar from BASELINES.md (word 1-2 + char_wb 2-5 TF-IDF, LR C=10) on the same split."""
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_union
    except ImportError:
        print("(scikit-learn not installed: TF-IDF + LR baseline row skipped)")
        return
    train, val = banking77(data)
    vec = make_union(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                     TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True))
    t0 = time.perf_counter()
    x = vec.fit_transform([t for t, _ in train])
    clf = LogisticRegression(C=10, max_iter=2000).fit(x, [y for _, y in train])
    acc = float(np.mean(clf.predict(vec.transform([t for t, _ in val])) == np.array([y for _, y in val])))
    print(f"| TF-IDF + LR (sklearn, same split) | - | - | {acc:.4f} | - | - | "
          f"{time.perf_counter() - t0:.1f} | - | - |")


def oos_table(data: Path, params: dict) -> None:
    root = data / "banking77-oos"
    train = load_labelled(root / "train")
    valid = load_labelled(root / "valid")
    m = HashBagClassifier(**params).fit([i.text for i in train], [i.label for i in train])
    print(f"\nBANKING77-OOS (train {len(train)} rows, 50 in-scope intents), threshold {THRESHOLD}")
    print("| split | rows | in-scope accuracy | share >= threshold | accuracy when >= threshold |"
          " OOS share below threshold |")
    print("|---|---|---|---|---|---|")
    p = m.predict_proba([i.text for i in valid])
    ok = np.array([m.classes_[j] == i.label for j, i in zip(p.argmax(1), valid)])
    keep = p.max(1) >= THRESHOLD
    print(f"| valid (in-scope) | {len(valid)} | {ok.mean():.4f} | {keep.mean():.4f} | "
          f"{ok[keep].mean():.4f} | - |")
    for split in ("id-oos", "ood-oos"):
        items = load_labelled(root / split / "valid")
        top = m.predict_proba([i.text for i in items]).max(1)
        print(f"| {split}/valid | {len(items)} | - | - | - | {(top < THRESHOLD).mean():.4f} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--quick", action="store_true", help="one setting only")
    ap.add_argument("--settings", nargs="*", help=f"subset of {list(CONFIGS)}")
    ap.add_argument("--seeds", type=int, default=3, help="seeds for the spread of the default setting")
    args = ap.parse_args()
    if not (args.data / "banking77").exists():
        print(f"skip: {args.data}/banking77 not found")
        return 0
    names = tuple(args.settings) if args.settings else (QUICK if args.quick else tuple(CONFIGS))
    accuracy_table(args.data, names)
    if not args.quick:
        tfidf_baseline(args.data)
        seed_spread(args.data, OOS_SETTING, args.seeds)
    oos_table(args.data, CONFIGS[OOS_SETTING])
    return 0


if __name__ == "__main__":
    sys.exit(main())
