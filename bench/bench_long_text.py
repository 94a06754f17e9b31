"""Long real tickets: the offline models on CFPB complaint narratives (prints numbers, asserts nothing).

    python bench/bench_long_text.py [--data ../shared/data] [--variants 2] [--seed 0]

Real consumer text written by other people: the narratives of ``cfpb-complaints-sample`` (US CFPB
Consumer Complaint Database; PII already masked as XXXX by the CFPB), labelled with their product.
Products with fewer than ``MIN_PER_CLASS`` narratives are left out and the CFPB's renamed products
are merged ("Credit card" into "Credit card or prepaid card", …). A seeded, stratified 80/20
split; the 20 % is the validation set (nothing is tuned on it). Rows: the rows of
``bench_teacher`` (student, distilled student, server tier MiniLM+LR, TF-IDF+LR) plus the student
with ``max_len`` 2048 (how much the 512-id cap costs on long text), each overall and by length
(narratives under / over ``LONG_CHARS`` characters). The narratives are long: median 788
characters, p90 2,224; MiniLM reads only the first 256 word pieces.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_teacher import macro_f1, models  # noqa: E402
from plugin.metrics import percentile  # noqa: E402
from tflite_fallback.model import HashBagClassifier  # noqa: E402

MIN_PER_CLASS = 25
LONG_CHARS = 1000
MERGED = {"Credit card": "Credit card or prepaid card", "Prepaid card": "Credit card or prepaid card",
          "Payday loan": "Payday loan, title loan, or personal loan",
          "Consumer Loan": "Payday loan, title loan, or personal loan",
          "Credit reporting": "Credit reporting, credit repair services, or other personal consumer reports"}


def narratives(data: Path) -> list[tuple[str, str]]:
    """(narrative, product) for every complaint with a narrative, products merged and rare ones left out."""
    path = data / "cfpb-complaints-sample" / "complaints_small.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        rows = [(r["Consumer complaint narrative"].strip(), MERGED.get(r["Product"], r["Product"]))
                for r in csv.DictReader(fh) if r["Consumer complaint narrative"].strip()]
    counts = Counter(label for _, label in rows)
    return [(t, lb) for t, lb in rows if counts[lb] >= MIN_PER_CLASS]


def split(rows: list[tuple[str, str]], seed: int) -> tuple[list, list]:
    """Stratified 80/20."""
    by_label: dict[str, list] = defaultdict(list)
    for row in rows:
        by_label[row[1]].append(row)
    train, val = [], []
    rng = random.Random(seed)
    for label in sorted(by_label):
        items = by_label[label]
        rng.shuffle(items)
        cut = max(1, round(len(items) * 0.2))
        val += items[:cut]
        train += items[cut:]
    return train, val


def report(name: str, predict_proba, classes: list[str], val: list[tuple[str, str]], size_mb: float,
           train_s: float) -> None:
    texts, gold = [t for t, _ in val], [lb for _, lb in val]
    t = time.perf_counter()
    pred = [classes[i] for i in np.asarray(predict_proba(texts)).argmax(axis=1)]
    per_ticket_ms = (time.perf_counter() - t) / len(texts) * 1000
    acc = np.mean([p == g for p, g in zip(pred, gold)])
    by_len = {}
    for bucket, keep in (("short", lambda s: len(s) < LONG_CHARS), ("long", lambda s: len(s) >= LONG_CHARS)):
        idx = [i for i, s in enumerate(texts) if keep(s)]
        by_len[bucket] = (np.mean([pred[i] == gold[i] for i in idx]), len(idx))
    print(f"{name:38} acc {acc * 100:5.1f}  macro-F1 {macro_f1(gold, pred) * 100:5.1f}  "
          f"short {by_len['short'][0] * 100:5.1f} (n={by_len['short'][1]})  long {by_len['long'][0] * 100:5.1f} "
          f"(n={by_len['long'][1]})  size {size_mb:6.1f} MB  train {train_s:6.1f} s  {per_ticket_ms:6.2f} ms/ticket",
          flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--variants", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rows = narratives(args.data)
    train, val = split(rows, args.seed)
    lengths = [len(t) for t, _ in rows]
    print(f"CFPB narratives: {len(rows)} ({len(train)} train / {len(val)} validation), "
          f"{len({lb for _, lb in rows})} products; length median {percentile(lengths, 50):.0f} chars, "
          f"p90 {percentile(lengths, 90):.0f}; majority class {Counter(lb for _, lb in val).most_common(1)[0][1] / len(val) * 100:.1f} %")
    train_x, train_y = [t for t, _ in train], [lb for _, lb in train]
    rows_out, classes, _tier = models(train_x, train_y, args.variants, args.seed)
    for name, predict_proba, size_mb, train_s in rows_out:
        report(name, predict_proba, classes, val, size_mb, train_s)
    t = time.perf_counter()
    wide = HashBagClassifier(max_len=2048, seed=args.seed).fit(train_x, train_y, classes=classes)
    report("student (gold), max_len 2048", wide.predict_proba, classes, val,
           4 * wide.embedding_.size / 1e6 + 0.02, time.perf_counter() - t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
