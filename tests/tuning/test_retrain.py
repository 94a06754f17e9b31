"""`triage retrain` promotes a better candidate, refuses a worse one; `triage rollback` restores."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from plugin import registry
from plugin.cli import main
from plugin.config import load_settings
from plugin.corrections import CorrectionStore
from plugin.pipeline import Pipeline
from .conftest import write_csv

VOCAB = {
    "PAYMENT": ["charged twice", "card declined", "payment failed", "double charge", "pay with paypal"],
    "REFUND": ["money back", "refund status", "return for a refund", "refund not received", "reimburse me"],
    "DELIVERY": ["parcel late", "package not arrived", "shipping time", "courier lost", "delivery date"],
    "ACCOUNT": ["reset password", "cannot log in", "delete my account", "change my email", "locked out"],
    "ORDER": ["cancel my order", "change my order", "order status", "add an item", "wrong size ordered"],
}
FILLER = ["hello", "please help", "thanks", "asap", "today", "again", "urgent", "hi team", "i think", "why"]


def synthetic(n_per_label: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows = []
    for label, phrases in VOCAB.items():
        for _ in range(n_per_label):
            words = [rng.choice(phrases)] + rng.sample(FILLER, 3)
            rng.shuffle(words)
            rows.append((" ".join(words), label))
    return rows


WEAK = ["--param", "epochs=1", "--param", "dim=2", "--param", "n_buckets=64", "--param", "char_ngrams=[0,0]"]
GOOD = ["--param", "epochs=8", "--param", "n_buckets=4096"]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "train.csv", synthetic(30, seed=1))


def _retrain(instance: Path, data: Path, *extra: str, capsys) -> tuple[int, dict]:
    capsys.readouterr()
    rc = main(["retrain", "--data", str(data), "--instance-dir", str(instance), "--json", *extra])
    return rc, json.loads(capsys.readouterr().out)


def test_retrain_promotes_when_better_refuses_when_worse_and_rolls_back(clean_env, data: Path, tmp_path, capsys):
    instance = tmp_path / "inst"
    settings = load_settings({"instance_dir": instance}, env={})
    # 1. a weak first model against the bundled default: the default knows other categories, so
    #    compare candidates with each other from here on (first promotion uses tolerance 1)
    rc, weak = _retrain(instance, data, *WEAK, "--tolerance", "1", capsys=capsys)
    assert rc == 0 and weak["promoted"]
    v1 = registry.current_version(settings)
    assert v1 == weak["candidate_version"]
    assert (instance / "models" / v1 / "label_distribution.json").exists()

    # 2. a better candidate is promoted, and the pipeline now uses it
    rc, good = _retrain(instance, data, *GOOD, capsys=capsys)
    assert rc == 0 and good["promoted"], good["reason"]
    assert good["candidate"]["accuracy"] > good["current"]["accuracy"]
    assert good["current_version"] == v1
    v2 = registry.current_version(settings)
    assert v2 == good["candidate_version"] != v1
    result = Pipeline.from_settings(settings.model_copy(update={"classifier": "fallback"})).classify(
        "I was charged twice and my card declined")
    assert result.model_version == v2

    # 3. a worse candidate is refused; the active model does not change
    rc, worse = _retrain(instance, data, *WEAK, capsys=capsys)
    assert rc == 1 and not worse["promoted"]
    assert worse["candidate"]["accuracy"] < worse["current"]["accuracy"]
    assert registry.current_version(settings) == v2

    # 4. rollback restores the previous version
    assert main(["rollback", "--instance-dir", str(instance)]) == 0
    assert registry.current_version(settings) == v1
    again = Pipeline.from_settings(settings.model_copy(update={"classifier": "fallback"})).classify("refund please")
    assert again.model_version == v1


def test_retrain_uses_recorded_corrections(clean_env, data: Path, tmp_path, capsys):
    instance = tmp_path / "inst"
    settings = load_settings({"instance_dir": instance}, env={})
    store = CorrectionStore(settings.db_path)
    for i in range(12):
        store.add(vendor="zendesk", ticket_id=str(i), our_label="billing", agent_label="refund", source="tag",
                  text=f"my blender broke, reimburse me {i}")
    rc, out = _retrain(instance, data, *GOOD, "--dry-run", capsys=capsys)
    assert rc == 0 and out["n_corrections"] == 12 and not out["promoted"]
    assert registry.current_version(settings) is None  # dry run never promotes


def test_distillation_rows_teach_the_candidate(taxonomy):
    import numpy as np

    from plugin.datasets import Item, map_to_taxonomy
    from plugin.retrain import train_candidate

    hard = map_to_taxonomy([Item(str(i), t, lab) for i, (t, lab) in enumerate(synthetic(20, seed=3))], taxonomy)
    phrase = "zorblax gizmo kaput"  # words the hard data never saw; only the LLM labelled them
    classes = taxonomy.names
    soft_texts = [f"{phrase} {w}" for w in FILLER] * 3
    targets = np.zeros((len(soft_texts), len(classes)))
    targets[:, classes.index("refund")] = 0.9
    targets[:, classes.index("billing")] = 0.1
    model = train_candidate(hard, taxonomy, {"epochs": 8, "n_buckets": 4096}, soft=(soft_texts, targets, classes))
    assert model.predict([phrase])[0] == "refund"
    baseline = train_candidate(hard, taxonomy, {"epochs": 8, "n_buckets": 4096})
    refund = baseline.classes_.index("refund")
    assert model.predict_proba([phrase])[0][model.classes_.index("refund")] > baseline.predict_proba([phrase])[0][refund]
