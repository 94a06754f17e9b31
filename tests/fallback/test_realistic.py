"""The bundled default model on realistic ticket prose, and the README's first command.

``realistic_tickets.jsonl`` holds 72 hand-written support e-mails (8 per default category, with
greetings, order numbers, amounts and PII). It is an evaluation set only: never trained on and not
tuned to 100 % (that would overfit a 72-row set); the floor below catches a regression such as the
old Bitext-only model, which scored 0.24 on it and answered `other` for most long tickets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from plugin.fallback import load_fallback
from plugin.pipeline import Pipeline
from plugin.taxonomy import load_taxonomy

TICKETS = Path(__file__).with_name("realistic_tickets.jsonl")
README_TICKET = "I was charged twice for my order, card 4111 1111 1111 1111, call me on +1 415 555 0100"
ACCURACY_FLOOR = 0.75  # measured 0.82 when the model was built (MODEL_CARD.md; 0.72 before distillation)
PER_CLASS_FLOOR = 2  # of 8: no category may be (almost) never predicted right


@pytest.fixture(scope="module")
def tickets() -> list[dict]:
    return [json.loads(line) for line in TICKETS.read_text("utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline(load_taxonomy(), load_fallback("default"))


def test_realistic_set_covers_the_default_taxonomy(tickets) -> None:
    counts = Counter(t["label"] for t in tickets)
    assert set(counts) == set(load_taxonomy().names)
    assert 60 <= len(tickets) <= 80 and min(counts.values()) >= 5
    assert len({t["id"] for t in tickets}) == len(tickets)


def test_bundled_model_accuracy_on_realistic_tickets(tickets, pipeline) -> None:
    results = [(t["label"], pipeline.classify(t["text"]).label) for t in tickets]
    accuracy = sum(gold == pred for gold, pred in results) / len(results)
    per_class = Counter(gold for gold, pred in results if gold == pred)
    misses = [f"{gold} -> {pred}" for gold, pred in results if gold != pred]
    assert accuracy >= ACCURACY_FLOOR, f"accuracy {accuracy:.3f}; misses: {misses}"
    weak = {c: per_class[c] for c in load_taxonomy().names if per_class[c] < PER_CLASS_FLOOR}
    assert not weak, f"categories almost never right: {weak}"


def test_bundled_model_knows_every_default_category() -> None:
    assert load_fallback("default").classes_ == load_taxonomy().names


def test_readme_example_is_billing(tmp_path) -> None:
    """The first command a new user runs: bundled model, no LLM configured."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRIAGE_", "OPENAI_"))}
    env["TRIAGE_INSTANCE_DIR"] = str(tmp_path / "instance")
    out = subprocess.run([sys.executable, "-m", "plugin", "classify", README_TICKET], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert r["classifier"] == "fallback" and r["label"] == "billing", r
    assert r["decision"] != "needs_review", r
    assert r["redacted_text"] == "I was charged twice for my order, card [CARD_1], call me on [PHONE_1]"


def test_default_source_labels_exist_in_the_datasets(shared_data) -> None:
    """A typo in `source_labels` would silently drop that intent from the bundled model's data."""
    from plugin.datasets import load_labelled

    b77 = set(json.loads((shared_data / "banking77" / "categories.json").read_text("utf-8")))
    bitext_file = next((shared_data / "bitext-customer-support").glob("*Training*.csv"))
    bitext = ({it.label for it in load_labelled(bitext_file, label_col="category")}
              | {it.label for it in load_labelled(bitext_file, label_col="intent")})
    unknown = [s for c in load_taxonomy().categories for s in c.source_labels if s not in b77 | bitext]
    assert not unknown
