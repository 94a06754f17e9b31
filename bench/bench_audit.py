"""Does `triage taxonomy audit` find a category that is missing from the taxonomy? A planted-class bench.

    python bench/bench_audit.py [--dataset banking77|hwu64|all] [--tier bundled|server|both]
                                [--hidden a,b,...] [--sample-out FILE]

For each hidden class: a seeded 70/30 split of a public intent dataset (../shared/data: BANKING77,
CC BY 4.0; HWU64, CC BY 4.0), a taxonomy of every label but the hidden one, a fallback model
trained on the 70 % without the hidden class, and the 30 % as traffic: each ticket gets our label,
score and decision (``plugin.decide`` at the default thresholds). The audit then clusters the
other / needs-review tickets as the service would with that model: ``bundled`` is the on-device
student (``HashBagClassifier``, 5 epochs; TF-IDF clustering), ``server`` the server tier
(all-MiniLM-L6-v2 + a softmax head; clustering in the encoder's space; needs the teacher extra and
``triage teacher install``, and encodes each dataset once, about 2-3 min). Figures, per hidden class:

- reach: share of the hidden class's tickets that landed in the audited pool (the rest the
  classifier placed, confidently, in a known category: no audit sees those);
- purity: of the suggestion holding the most hidden-class tickets, the share that are hidden-class;
- recall: the share of the pooled hidden-class tickets inside that suggestion.

Goal: purity and recall >= 80 %. ``--sample-out`` writes the first run's traffic as JSONL: every
audited (other / needs-review) ticket and a seeded sample of ``SAMPLE_BACKGROUND`` others (the
committed test sample, tests/tuning/data/audit_planted_sample.jsonl).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
SAMPLE_BACKGROUND = 300
HIDDEN = {
    "banking77": ["exchange_rate", "lost_or_stolen_phone", "apple_pay_or_google_pay", "terminate_account",
                  "passcode_forgotten", "card_swallowed", "age_limit", "country_support"],
    "hwu64": ["weather_query", "alarm_set", "takeaway_order", "cooking_recipe", "transport_taxi",
              "email_sendemail", "play_podcasts", "qa_currency"],
}


def load_rows(dataset: str) -> list[tuple[str, str]]:
    """(text, label) rows of a dataset's training file."""
    if dataset == "banking77":
        import csv

        with open(DATA / "banking77" / "train.csv", newline="", encoding="utf-8") as fh:
            return [(r["text"], r["category"]) for r in csv.DictReader(fh)]
    folder = DATA / "hwu64" / "train"
    texts = (folder / "seq.in").read_text("utf-8").splitlines()
    labels = (folder / "label").read_text("utf-8").splitlines()
    return [(t, lb) for t, lb in zip(texts, labels) if t.strip()]


def planted_traffic(rows: list[tuple[str, str]], hidden: str, *, tier: str = "bundled", seed: int = 0,
                    embeddings: dict[str, object] | None = None) -> tuple[list, object, object]:
    """Traffic classified by a model of ``tier`` that never saw ``hidden``, the taxonomy without it,
    and the model. ``embeddings`` (text -> encoder row) spares the server tier re-encoding."""
    import numpy as np

    from plugin.datasets import category_name, taxonomy_toml_from_labels
    from plugin.decide import decide
    from plugin.taxonomy import parse_taxonomy
    from plugin.taxonomy_audit import AuditItem
    from tflite_fallback.encoder_model import EncoderClassifier
    from tflite_fallback.model import HashBagClassifier

    rows = list(rows)
    random.Random(seed).shuffle(rows)
    cut = int(len(rows) * 0.7)
    train, traffic = [r for r in rows[:cut] if r[1] != hidden], rows[cut:]
    taxonomy = parse_taxonomy(taxonomy_toml_from_labels([lb for _, lb in train]))
    labels = [category_name(lb) for _, lb in train]
    if tier == "server":
        embeddings = embeddings if embeddings is not None else dataset_embeddings(rows)
        model = EncoderClassifier(seed=seed).fit([t for t, _ in train], labels,
                                                 embeddings=np.stack([embeddings[t] for t, _ in train]))
        probs = model.predict_proba([t for t, _ in traffic], embeddings=np.stack([embeddings[t] for t, _ in traffic]))
    else:
        model = HashBagClassifier(epochs=5, seed=seed).fit([t for t, _ in train], labels)
        probs = model.predict_proba([t for t, _ in traffic])
    items = []
    for i, ((text, gold), p) in enumerate(zip(traffic, probs)):
        label, score = model.classes_[int(p.argmax())], float(p.max())
        items.append(AuditItem(id=str(i), text=text, label=label, score=score,
                               decision=str(decide(label, score, taxonomy)), gold=category_name(gold)))
    return items, taxonomy, model


def dataset_embeddings(rows: list[tuple[str, str]]) -> dict[str, object]:
    """The server tier's encoder rows for every text of a dataset, encoded once."""
    from tflite_fallback.minilm import shared_encoder

    texts = list(dict.fromkeys(t for t, _ in rows))
    return dict(zip(texts, shared_encoder().encode(texts)))


def run(dataset: str, hidden: str, tier: str, embeddings: dict | None = None) -> dict:
    from plugin.datasets import category_name
    from plugin.taxonomy_audit import audit, planted_class_match

    t0 = time.perf_counter()
    items, taxonomy, model = planted_traffic(load_rows(dataset), hidden, tier=tier, embeddings=embeddings)
    report = audit(items, taxonomy, encoder=model.encoder if tier == "server" else None)
    match = planted_class_match(report, items, category_name(hidden))
    return {"dataset": dataset, "tier": tier, "hidden": hidden, "pool": report.pool,
            "suggestions": len(report.suggestions), **match, "seconds": time.perf_counter() - t0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", choices=["banking77", "hwu64", "all"], default="all")
    ap.add_argument("--tier", choices=["bundled", "server", "both"], default="bundled")
    ap.add_argument("--hidden", help="comma-separated hidden classes (default: the bench's list)")
    ap.add_argument("--sample-out", help="write the first run's traffic as JSONL")
    args = ap.parse_args()
    datasets = ["banking77", "hwu64"] if args.dataset == "all" else [args.dataset]
    tiers = ["bundled", "server"] if args.tier == "both" else [args.tier]
    results = []
    for ds, tier in ((d, t) for d in datasets for t in tiers):
        embeddings = dataset_embeddings(load_rows(ds)) if tier == "server" else None
        for hidden in (args.hidden.split(",") if args.hidden else HIDDEN[ds]):
            r = run(ds, hidden, tier, embeddings)
            results.append(r)
            print(f"{ds:10} {tier:8} {hidden:26} pool {r['pool']:4}  hidden in pool {r['hidden_in_pool']:3}/{r['hidden_total']:3} "
                  f"(reach {r['reach']:.0%})  best suggestion {r['name'] or '-':28} size {r['size']:3}  "
                  f"purity {r['purity']:.0%}  recall {r['recall']:.0%}  [{r['seconds']:.1f}s]", flush=True)
            if args.sample_out and len(results) == 1:
                items, _, _ = planted_traffic(load_rows(ds), hidden, tier=tier, embeddings=embeddings)
                pooled = [it for it in items if it.decision == "needs_review" or it.label == "other"]
                rest = [it for it in items if it not in pooled]
                keep = {it.id for it in pooled} | {it.id for it in random.Random(0).sample(rest, SAMPLE_BACKGROUND)}
                with open(args.sample_out, "w", encoding="utf-8") as fh:
                    for it in (it for it in items if it.id in keep):
                        fh.write(json.dumps({"text": it.text, "label": it.label, "score": round(it.score, 4),
                                             "decision": it.decision, "gold": it.gold}) + "\n")
    for ds, tier in ((d, t) for d in datasets for t in tiers):
        rs = [r for r in results if r["dataset"] == ds and r["tier"] == tier]
        met = sum(r["purity"] >= 0.8 and r["recall"] >= 0.8 for r in rs)
        print(f"{ds} ({tier}): mean purity {sum(r['purity'] for r in rs) / len(rs):.0%}, mean recall "
              f"{sum(r['recall'] for r in rs) / len(rs):.0%}, mean reach {sum(r['reach'] for r in rs) / len(rs):.0%}; "
              f"goal (both >= 80 %) met for {met}/{len(rs)} hidden classes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
