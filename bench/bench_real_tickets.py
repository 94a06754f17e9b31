"""The shipped fallback model on long tickets written by other people: other-rate, needs-review, accuracy.

    python bench/bench_real_tickets.py [--model-dir DIR] [--limit N] [--data ../shared/data]

Every ticket goes through the production pipeline (``triage eval``'s path: normalise, redact,
truncate, the fallback model, the taxonomy's thresholds), so "needs review" is the decision the
service would take. Prints, per set: tickets, the share labelled ``other`` (guidance: <= 15 %,
audit the taxonomy above 30 %), the share sent to review, the label distribution, and accuracy
where the set's own labels map onto the default taxonomy.

* CFPB complaint narratives (``cfpb-complaints-sample``; real consumers' text, PII masked by the
  CFPB; evaluation only): every one is a billing/account/refund-type complaint about a financial
  product, so none should be ``other``. No mapping to our categories is claimed.
* Multilingual support tickets (Tobias Bueck, synthetic, CC BY-NC 4.0: evaluation only, never
  trained on), English rows: subject + body. Queues that name one of our categories are mapped
  (``QUEUE_MAP``); the other queues (customer service, product support, sales …) count towards the
  rates only.
* ``tests/fallback/realistic_tickets.jsonl``: 72 support e-mails written here (8 per category);
  ours, so one input among several.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_long_text import narratives  # noqa: E402
from plugin.config import load_settings  # noqa: E402
from plugin.evaluation import classifier_from_settings  # noqa: E402
from plugin.metrics import percentile  # noqa: E402
from plugin.result import Decision  # noqa: E402

QUEUE_MAP = {"Billing and Payments": "billing", "Technical Support": "technical", "IT Support": "technical",
             "Service Outages and Maintenance": "technical", "Returns and Exchanges": "refund"}
MULTILINGUAL = "multilingual-support-tickets-synthetic/dataset-tickets-multi-lang3-4k.csv"


def ticket_sets(data: Path) -> dict[str, list[tuple[str, str | None]]]:
    """(text, our category or None) per set."""
    with (data / MULTILINGUAL).open(newline="", encoding="utf-8") as fh:
        multilingual = [((r["subject"] or "").strip() + "\n" + r["body"], QUEUE_MAP.get(r["queue"]))
                        for r in csv.DictReader(fh) if r["language"] == "en"]
    realistic = [json.loads(line) for line in (ROOT / "tests" / "fallback" / "realistic_tickets.jsonl")
                 .read_text("utf-8").splitlines() if line.strip()]
    return {"CFPB narratives (real)": [(t, None) for t, _ in narratives(data)],
            "multilingual tickets, English (synthetic, Bueck)": multilingual,
            "realistic e-mails (written here)": [(r["text"], r["label"]) for r in realistic]}


def run_set(name: str, rows: list[tuple[str, str | None]], classify) -> None:
    results, ms = [], []
    for text, _ in rows:
        t = time.perf_counter()
        results.append(classify(text))
        ms.append((time.perf_counter() - t) * 1000)
    n = len(rows)
    labels = Counter(r.label for r in results)
    review = sum(r.decision == Decision.NEEDS_REVIEW for r in results)
    mapped = [(r, gold) for r, (_, gold) in zip(results, rows) if gold]
    answered = [(r, gold) for r, gold in mapped if r.decision != Decision.NEEDS_REVIEW]
    acc = (f"accuracy on {len(mapped)} mapped {sum(r.label == g for r, g in mapped) / len(mapped):.1%} "
           f"(on the {len(answered)} not sent to review "
           f"{sum(r.label == g for r, g in answered) / max(1, len(answered)):.1%})") if mapped else "no labels to map"
    lengths = sorted(len(t) for t, _ in rows)
    print(f"\n== {name}: {n} tickets, median {lengths[n // 2]} chars")
    print(f"other {labels.get('other', 0) / n:.1%}   needs review {review / n:.1%}   "
          f"{acc}   pipeline p50 {percentile(ms, 50):.1f} ms")
    print("labels: " + ", ".join(f"{k} {v}" for k, v in labels.most_common()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--model-dir", help="model directory (default: the bundled model)")
    ap.add_argument("--limit", type=int, default=0, help="first N tickets of each set")
    args = ap.parse_args()
    overrides = {"classifier": "fallback"}
    if args.model_dir:
        overrides["model_dir"] = args.model_dir
    classify = classifier_from_settings(load_settings(overrides))
    for name, rows in ticket_sets(args.data).items():
        run_set(name, rows[: args.limit] if args.limit else rows, classify)
    return 0


if __name__ == "__main__":
    sys.exit(main())
