"""Retrieval benchmark: build time, index size and query latency at 100k labelled examples.

Usage: ``python bench/bench_retrieval.py [--n 100000] [--queries 2000] [--data ../shared/data]``.
Examples are real tickets (BANKING77, Bitext, HWU64, multilingual tickets); to reach ``--n`` they
are repeated with seeded word dropout and shuffling, so postings lists have realistic lengths.
Queries are BANKING77 rows held out from the index. Target: p50 <= 2 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plugin.datasets import load_labelled, stratified_split  # noqa: E402
from plugin.metrics import percentile  # noqa: E402
from plugin.retrieval import RetrievalIndex  # noqa: E402



def load_pool(data: Path) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    banking = load_labelled(data / "banking77" / "train.csv")
    train, val = stratified_split(banking, 0.2, seed=0)
    texts = [it.text for it in train]
    labels = [it.label for it in train]
    for path in [*sorted((data / "bitext-customer-support").glob("*.csv")), data / "hwu64" / "train",
                 data / "multilingual-support-tickets-synthetic" / "dataset-tickets-multi-lang3-4k.csv"]:
        try:
            items = load_labelled(path, label_col="queue" if "multi" in str(path) else None)
        except Exception as exc:  # noqa: BLE001 - a bench reports and carries on
            print(f"(skipping {path.name}: {exc})")
            continue
        texts += [it.text for it in items]
        labels += [it.label for it in items]
    return texts, labels, [(it.text, it.label) for it in val]


def grow(texts: list[str], labels: list[str], n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    out_t, out_l = list(texts[:n]), list(labels[:n])
    while len(out_t) < n:
        i = rng.randrange(len(texts))
        words = texts[i].split()
        kept = [w for w in words if rng.random() > 0.15] or words
        if len(kept) > 3 and rng.random() < 0.5:
            j = rng.randrange(len(kept) - 1)
            kept[j], kept[j + 1] = kept[j + 1], kept[j]
        out_t.append(" ".join(kept))
        out_l.append(labels[i])
    return out_t, out_l


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--k", type=int, default=12)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args()

    texts, labels, queries = load_pool(args.data)
    print(f"pool: {len(texts)} real labelled texts; growing to {args.n}")
    texts, labels = grow(texts, labels, args.n)
    t = time.perf_counter()
    index = RetrievalIndex.build(texts, labels)
    build_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        index.save(tmp)
        size_mb = sum(p.stat().st_size for p in Path(tmp).iterdir()) / 1e6
        t = time.perf_counter()
        index = RetrievalIndex.load(tmp)
        load_s = time.perf_counter() - t
    print(f"build (normalize + redact + index) {build_s:.1f}s; on disk {size_mb:.1f} MB; load {load_s:.2f}s")

    queries = queries[: args.queries]
    for q, _ in queries[:50]:
        index.search(q, args.k)  # warm-up
    lat, top1 = [], 0
    for q, label in queries:
        a = time.perf_counter()
        hits = index.search(q, args.k)
        lat.append((time.perf_counter() - a) * 1000)
        top1 += bool(hits) and hits[0].label == label
    print(f"queries: {len(queries)} held-out BANKING77 rows, k={args.k}")
    print(f"latency ms: p50 {percentile(lat, 50):.3f}  p95 {percentile(lat, 95):.3f}  p99 {percentile(lat, 99):.3f}  "
          f"mean {statistics.mean(lat):.3f}   (target p50 <= 2 ms)")
    print(f"nearest neighbour has the query's label: {top1 / max(1, len(queries)) * 100:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
