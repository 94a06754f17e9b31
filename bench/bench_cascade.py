"""Cascade benchmark on BANKING77: how much can the fallback answer alone, and how well?

Usage: ``python bench/bench_cascade.py [--data ../shared/data] [--e2e 400]``.

A fallback model (``tflite_fallback`` HashBagClassifier, default parameters) is trained on a seeded
80 % stratified split of BANKING77 train; the other 20 % is the validation set (the test split is
held back). For each cascade threshold it prints the share of tickets sent to the LLM and the
fallback's accuracy on the tickets it kept. It also times retrieval of few-shot examples from an
index of the training split, and runs the real cascade (Pipeline, HTTP, retrieved examples) end to
end against the local OpenAI-compatible simulator for a sample. The simulator's "LLM" is a keyword
and nearest-example scorer, not a language model: those accuracy figures show the plumbing and
the effect of retrieval, not what GPT-class models reach.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plugin.datasets import category_name, load_labelled, stratified_split, taxonomy_toml_from_labels  # noqa: E402
from plugin.llm import LLMClassifier, build_client  # noqa: E402
from plugin.metrics import percentile  # noqa: E402
from plugin.pipeline import Pipeline  # noqa: E402
from plugin.result import ClassifierSource  # noqa: E402
from plugin.retrieval import RetrievalIndex  # noqa: E402
from plugin.taxonomy import parse_taxonomy  # noqa: E402
from simulators.openai_server import OpenAISimulator  # noqa: E402
from tflite_fallback.model import HashBagClassifier  # noqa: E402

THRESHOLDS = (0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)



def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--e2e", type=int, default=400, help="validation tickets run through the real cascade")
    ap.add_argument("--e2e-threshold", type=float, default=0.8)
    ap.add_argument("--k", type=int, default=12)
    args = ap.parse_args()

    items = load_labelled(args.data / "banking77" / "train.csv")
    train, val = stratified_split(items, 0.2, seed=0)
    tr_x, tr_y = [it.text for it in train], [category_name(it.label) for it in train]
    va_x, va_y = [it.text for it in val], [category_name(it.label) for it in val]
    print(f"BANKING77 train split {len(train)}, validation split {len(val)}, {len(set(tr_y))} classes")

    t = time.perf_counter()
    model = HashBagClassifier(seed=0).fit(tr_x, tr_y)
    print(f"fallback trained in {time.perf_counter() - t:.1f}s (HashBagClassifier defaults)")
    proba = model.predict_proba(va_x)
    pred = np.array(model.classes_)[proba.argmax(1)]
    conf = proba.max(1)
    correct = pred == np.array(va_y)
    print(f"fallback alone: accuracy {correct.mean() * 100:.1f}% on all validation tickets\n")
    print(f"{'threshold':>9} {'to LLM':>8} {'kept':>6} {'fallback acc on kept':>21}")
    for th in THRESHOLDS:
        kept = conf >= th
        acc = correct[kept].mean() * 100 if kept.any() else float("nan")
        print(f"{th:9.2f} {(~kept).mean() * 100:7.1f}% {kept.sum():6d} {acc:20.1f}%")

    t = time.perf_counter()
    index = RetrievalIndex.build(tr_x, tr_y)
    print(f"\nretrieval index over the training split: {len(index)} examples, built in {time.perf_counter() - t:.1f}s")
    lat, nn = [], 0
    for q, y in zip(va_x, va_y):
        a = time.perf_counter()
        hits = index.search(q, args.k)
        lat.append((time.perf_counter() - a) * 1000)
        nn += bool(hits) and hits[0].label == y
    print(f"retrieval latency k={args.k}: p50 {percentile(lat, 50):.3f} ms, p95 {percentile(lat, 95):.3f} ms; "
          f"nearest example has the right label {nn / len(va_x) * 100:.1f}%")

    if args.e2e:
        e2e(args, model, index, val[: args.e2e], va_y[: args.e2e], tr_y)
    return 0


def e2e(args: argparse.Namespace, model: HashBagClassifier, index: RetrievalIndex, val, va_y, tr_y) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tax_path = Path(tmp) / "banking77.toml"
        tax_path.write_text(taxonomy_toml_from_labels(sorted(set(tr_y))))
        taxonomy = parse_taxonomy(tax_path.read_text(), str(tax_path))
    print(f"\nend to end through Pipeline + local OpenAI-compatible simulator, {len(val)} tickets, "
          f"threshold {args.e2e_threshold}:")
    print(f"{'mode':28} {'accuracy':>9} {'to LLM':>7} {'prompt tok/ticket':>18} {'p50 ms':>7}")
    with OpenAISimulator() as sim:
        llm = LLMClassifier(build_client(sim.base_url, "k", 10.0), "sim-keyword-1", taxonomy.names)
        runs = [("fallback only", "fallback", None, args.e2e_threshold),
                ("llm only, no examples", "llm", None, args.e2e_threshold),
                ("llm only, retrieved examples", "llm", index, args.e2e_threshold),
                ("cascade, retrieved examples", "cascade", index, args.e2e_threshold)]
        for name, mode, retriever, th in runs:
            pipe = Pipeline(taxonomy, model, llm=llm if mode != "fallback" else None, mode=mode,
                            cascade_threshold=th, retriever=retriever, fewshot_k=args.k)
            ok, to_llm, tokens, lat = 0, 0, [], []
            for it, y in zip(val, va_y):
                r = pipe.classify(it.text)
                ok += r.label == y
                to_llm += r.classifier is ClassifierSource.LLM or "llm failed" in r.reason
                tokens.append(r.prompt_tokens if r.classifier is ClassifierSource.LLM else 0)
                lat.append(r.latency_ms)
            print(f"{name:28} {ok / len(val) * 100:8.1f}% {to_llm / len(val) * 100:6.1f}% "
                  f"{statistics.mean(tokens):18.0f} {percentile(lat, 50):7.2f}")


if __name__ == "__main__":
    sys.exit(main())
