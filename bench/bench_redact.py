"""Redaction benchmark: recall per entity type on public text this project did not write
(``bench/pii_eval.py``: presidio-evaluator templates + FakeNameGenerator records, Faker locales,
libphonenumber examples, Bitext), negatives kept, over-redaction on real CFPB narratives, the
generated corpus as one more input, latency per 2 KB ticket, and worst-case growth on adversarial
input (16 / 64 / 256 KB).

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
sys.path.insert(0, str(ROOT / "bench"))

import pii_corpus  # noqa: E402
import pii_eval  # noqa: E402
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


def external_figures(data: Path) -> None:
    cases = pii_eval.build(data)
    started = time.perf_counter()
    result = pii_eval.score(cases, redact)
    elapsed = time.perf_counter() - started
    print(f"== public evaluation set: {len(cases)} lines ({result.negatives} negatives), {elapsed:.1f} s")
    print("a value counts as caught only if no fragment of it is left (4+ digit groups, e-mail local part, name words)")
    print(f"{'type':8} {'recall':>8} {'n':>6}   by source")
    for kind in sorted({k for k, _ in result.counts}):
        by = ", ".join(f"{src} {result.recall(kind, src) * 100:.1f}% ({v[1]})"
                       for (k, src), v in sorted(result.counts.items()) if k == kind and src != "all")
        print(f"{kind:8} {result.recall(kind) * 100:7.1f}% {result.total(kind):6}   {by}")
    print(f"negatives (order/tracking/invoice numbers, prices, dates, versions, GUIDs, EAN/ISBN) untouched: "
          f"{result.kept_share * 100:.2f}% of {result.negatives}")


ADVERSARIAL = {
    "bangs": lambda n: "!" * n,
    "unclosed <script": lambda n: "<p>x</p>" + "<script" * (n // 7),
    "unclosed <!--": lambda n: "<p>x</p>" + "<!--" * (n // 4),
    "unclosed <blockquote": lambda n: "<p>x</p>" + "<blockquote" * (n // 11),
    "digit run": lambda n: "7" * n,
    "spaced digits": lambda n: "1 " * (n // 2),
    "capitalised words": lambda n: "Ab " * (n // 3),
    "hyphen chain": lambda n: "A-" * (n // 2),
    "address-like lines": lambda n: "12 Aab, Bb 1234, " * (n // 17),
}


def latency_and_growth(texts: list[str]) -> None:
    from plugin.fallback import load_fallback
    from plugin.pipeline import Pipeline
    from plugin.taxonomy import load_taxonomy

    pipe = Pipeline(load_taxonomy(), load_fallback())
    two_kb = [t[:2048] for t in texts if len(t) >= 2048][:300]
    pipe.classify("warm-up ticket")
    times = {"normalize + redact": [], "pipeline (no LLM)": []}
    for t in two_kb:
        a = time.perf_counter()
        redact(normalize(t))
        b = time.perf_counter()
        pipe.classify(t)
        c = time.perf_counter()
        times["normalize + redact"].append((b - a) * 1000)
        times["pipeline (no LLM)"].append((c - b) * 1000)
    print(f"\n== latency per 2 KB ticket ({len(two_kb)} real CFPB narratives cut to 2,048 chars)")
    for k, v in times.items():
        print(f"{k:20} p50 {percentile(v, 50):7.2f} ms   p99 {percentile(v, 99):7.2f} ms")
    print("\n== worst-case growth: pipeline.classify on adversarial bodies (ms)")
    print(f"{'input':22} {'16 KB':>9} {'64 KB':>9} {'256 KB':>9}")
    for name, make in ADVERSARIAL.items():
        row = []
        for n in (16_384, 65_536, 262_144):
            body = make(n)
            a = time.perf_counter()
            pipe.classify(body)
            row.append((time.perf_counter() - a) * 1000)
        print(f"{name:22} {row[0]:9.1f} {row[1]:9.1f} {row[2]:9.1f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--per-kind", type=int, default=1000)
    ap.add_argument("--negatives", type=int, default=5000)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--real-limit", type=int, default=2000)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args()
    external_figures(args.data)
    print()
    corpus_figures(args.per_kind, args.negatives, tuple(range(100, 100 + args.seeds)))
    stress_figures()
    texts = real_text_figures(args.data, args.real_limit)
    latency_and_growth(texts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
