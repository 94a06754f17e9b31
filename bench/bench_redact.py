"""Redaction benchmark: recall per PII kind and false positives on a generated corpus, redaction
counts on real complaint text, and per-ticket pipeline latency without the LLM.

Usage: ``python bench/bench_redact.py [--per-kind 1000] [--negatives 5000] [--data ../shared/data]``.
The corpus comes from ``tests/core/pii_corpus.py`` (seeded; several seeds are averaged).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "core"))

import pii_corpus  # noqa: E402
from plugin.budget import truncate  # noqa: E402
from plugin.metrics import percentile  # noqa: E402
from plugin.normalize import normalize  # noqa: E402
from plugin.redact import redact  # noqa: E402



def corpus_figures(per_kind: int, negatives: int, seeds: tuple[int, ...]) -> None:
    print(f"== generated PII corpus: {per_kind} cases per kind, {negatives} hard negatives, seeds {seeds}")
    recalls: dict[str, list[float]] = {k: [] for k in pii_corpus.PII_KINDS}
    fps, misses, fp_examples, times = [], [], [], []
    for seed in seeds:
        pos, neg = pii_corpus.corpus(seed, per_kind, negatives)
        t = time.perf_counter()
        s = pii_corpus.score(pos, neg, redact)
        times.append((time.perf_counter() - t) / (len(pos) + len(neg)) * 1000)
        for k, v in s["recall"].items():
            recalls[k].append(v)
        fps.append(s["fp_rate"])
        misses += s["misses"]
        fp_examples += s["false_positives"]
    print(f"{'kind':8} {'recall':>8}")
    for k in pii_corpus.PII_KINDS:
        print(f"{k:8} {statistics.mean(recalls[k]) * 100:7.2f}%")
    print(f"false-positive rate on hard negatives: {statistics.mean(fps) * 100:.2f}% "
          f"(a negative counts as a false positive if anything in it is redacted)")
    print(f"redact() time per case: {statistics.mean(times):.3f} ms")
    for kind, text, out in misses[:5]:
        print(f"  miss [{kind}] {text!r} -> {out!r}")
    for text, out in fp_examples[:5]:
        print(f"  false positive {text!r} -> {out!r}")


# Cases outside the generator's templates, to show where the redactor stops (not tuned for).
STRESS = [
    ("phone", "JP national format (JP not a configured region)", "電話は 03-1234-5678 です", "03-1234-5678"),
    ("phone", "JP international", "call +81 3-1234-5678", "+81 3-1234-5678"),
    ("phone", "ZA national (not configured)", "my cell 082 123 4567", "082 123 4567"),
    ("phone", "US bare 10 digits, no context word", "4155550123 after 6pm", "4155550123"),
    ("phone", "US with extension", "office (415) 555-0123 ext. 12", "(415) 555-0123"),
    ("card", "odd grouping", "card 4111 11 11 1111 1111", "4111 11 11 1111 1111"),
    ("card", "dots as separators", "card 4111.1111.1111.1111", "4111.1111.1111.1111"),
    ("email", "unicode domain", "mail jörg@müller.de", "jörg@müller.de"),
    ("email", "obfuscated", "john dot doe at example dot com", "john dot doe at example dot com"),
    ("ip", "IPv4 with port", "server 10.20.30.40:8080 down", "10.20.30.40"),
    ("secret", "German password phrase", "mein Passwort ist Sommer2024!", "Sommer2024!"),
    ("secret", "short password after 'pw'", "pw: hunter2", "hunter2"),
    ("ssn", "SSN without keyword, no dashes", "my number 123456789 for taxes", "123456789"),
    ("iban", "IBAN lower case", "iban de89 3704 0044 0532 0130 00", "de89 3704 0044 0532 0130 00"),
]


def stress_figures() -> None:
    print("\n== out-of-template stress cases (not in the generator; shows the limits)")
    caught = 0
    for kind, what, text, value in STRESS:
        r = redact(text)
        ok = value not in r.text and r.counts.get(kind, 0) > 0
        caught += ok
        print(f"  {'caught' if ok else 'MISSED':6} [{kind}] {what}: {text!r} -> {r.text!r}")
    print(f"stress recall: {caught}/{len(STRESS)}")


def real_text_figures(data: Path, limit: int) -> list[str]:
    path = data / "cfpb-complaints-sample" / "complaints_small.csv"
    if not path.exists():
        print(f"(skipping real text: {path} not found)")
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        texts = [r["Consumer complaint narrative"] for r in csv.DictReader(fh) if r["Consumer complaint narrative"]]
    texts = texts[:limit]
    counts: Counter[str] = Counter()
    touched = 0
    for t in texts:
        r = redact(normalize(t))
        counts.update(r.counts)
        touched += bool(r.counts)
    print(f"\n== CFPB complaint narratives ({len(texts)}; the CFPB already masks PII as XXXX)")
    print(f"narratives with any redaction: {touched} ({touched / max(1, len(texts)) * 100:.1f}%); counts: {dict(counts)}")
    return texts


def latency_figures(texts: list[str]) -> None:
    from plugin.fallback import load_fallback
    from plugin.pipeline import Pipeline
    from plugin.taxonomy import load_taxonomy

    try:
        model = load_fallback()
    except Exception as exc:  # noqa: BLE001 - a bench reports and carries on
        print(f"(skipping pipeline latency: {exc})")
        return
    pipe = Pipeline(load_taxonomy(), model)
    pipe.classify("warm-up ticket")
    steps: dict[str, list[float]] = {k: [] for k in ("normalize", "redact", "truncate", "classify (total)")}
    for t in texts:
        a = time.perf_counter()
        n = normalize(t)
        b = time.perf_counter()
        r = redact(n)
        c = time.perf_counter()
        truncate(r.text, 512)
        d = time.perf_counter()
        pipe.classify(t)
        e = time.perf_counter()
        for k, v in zip(steps, (b - a, c - b, d - c, e - d)):
            v_ms = v * 1000
            steps[k].append(v_ms)
    chars = statistics.mean(len(t) for t in texts)
    print(f"\n== per-ticket pipeline latency without the LLM ({len(texts)} real narratives, mean {chars:.0f} chars,"
          " fallback model, prompt rendered and counted)")
    print(f"{'step':18} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for k, v in steps.items():
        print(f"{k:18} {percentile(v, 50):8.3f} {percentile(v, 95):8.3f} {max(v):8.3f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--per-kind", type=int, default=1000)
    ap.add_argument("--negatives", type=int, default=5000)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--real-limit", type=int, default=2000)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args()
    corpus_figures(args.per_kind, args.negatives, tuple(range(100, 100 + args.seeds)))
    stress_figures()
    texts = real_text_figures(args.data, args.real_limit)
    latency_figures(texts or [f"My parcel {i} has not arrived, call +1 415 555 {i:04d}" for i in range(500)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
