"""The server tier's novelty gate: tickets unlike every training ticket go to a human.

The real-data tests train the tier on 20 BANKING77 intents (real customer questions, CC BY 4.0)
and show it questions of 12 intents it never saw; they need the teacher's weights, which the
``encoder`` fixture installs once.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from plugin.datasets import load_labelled
from plugin.llm import LLMClassifier, build_client
from plugin.pipeline import Pipeline
from plugin.result import ClassifierSource, Decision
from plugin.taxonomy import Category, Taxonomy
from tflite_fallback import minilm
from tflite_fallback.encoder_model import EncoderClassifier
from tflite_fallback.model import HashBagClassifier
from tflite_fallback.novelty import NoveltyGate


def auroc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(a random in-scope score > a random out-of-scope score), ties half."""
    diff = pos[:, None] - neg[None, :]
    return float((diff > 0).mean() + 0.5 * (diff == 0).mean())


def test_gate_threshold_costs_the_chosen_share_of_held_out_rows_and_rejects_far_points():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 16)) * 4
    labels = rng.integers(0, 4, 800)
    x = centres[labels] + rng.normal(size=(800, 16))
    held_labels = rng.integers(0, 4, 400)
    held = centres[held_labels] + rng.normal(size=(400, 16))
    proba = np.full((400, 5), 0.05)
    proba[np.arange(400), held_labels] = 0.8
    gate = NoveltyGate.fit(x, labels, held, proba, reject_fraction=0.05, columns=np.arange(4))
    rejected = ~gate.familiar(held, proba)
    assert 0.03 <= rejected.mean() <= 0.05  # the quantile: about the share asked for, never more
    far = rng.normal(size=(50, 16)) * 4 + 30  # nowhere near a class, equally confident
    assert not gate.familiar(far, proba[:50]).any()
    # a point near a class but with a flat distribution over the in-scope columns scores lower
    flat = np.full((1, 5), 0.2)
    assert gate.scores(held[:1], flat)[0] < gate.scores(held[:1], proba[:1])[0]
    # only the in-scope columns count: mass on the catch-all (column 4) is not confidence
    on_catch_all = np.array([[0.01, 0.01, 0.01, 0.01, 0.96]])
    assert gate.scores(held[:1], on_catch_all)[0] < gate.scores(held[:1], proba[:1])[0]
    again = NoveltyGate.from_arrays(gate.to_arrays())
    np.testing.assert_allclose(again.scores(held, proba), gate.scores(held, proba), rtol=1e-6)
    assert NoveltyGate.from_arrays({"w": np.zeros(1)}) is None


@pytest.fixture(scope="module")
def encoder() -> minilm.SentenceEncoder:
    minilm.install()
    return minilm.shared_encoder()


@pytest.fixture(scope="module")
def split(shared_data: Path) -> dict[str, list[tuple[str, str]]]:
    """In scope: 20 intents, 60 rows each to train and 15 to test; out of scope: 12 other intents."""
    by_label: dict[str, list[tuple[str, str]]] = {}
    for it in load_labelled(shared_data / "banking77" / "train.csv"):
        by_label.setdefault(it.label, []).append((it.text, it.label))
    names = sorted(by_label)
    inside, outside = names[:20], names[40:52]
    return {"train": [r for c in inside for r in by_label[c][:60]],
            "test": [r for c in inside for r in by_label[c][60:75]],
            "unseen": [r for c in outside for r in by_label[c][:15]]}


@pytest.fixture(scope="module")
def tier(encoder, split) -> EncoderClassifier:
    return EncoderClassifier(seed=0).fit([t for t, _ in split["train"]], [lab for _, lab in split["train"]])


def test_gate_tells_unseen_intents_apart_better_than_the_probabilities(tier, encoder, split, tmp_path: Path):
    test_x, unseen_x = [t for t, _ in split["test"]], [t for t, _ in split["unseen"]]
    e_in, e_out = encoder.encode(test_x), encoder.encode(unseen_x)
    p_in, p_out = tier.predict_proba(test_x, embeddings=e_in), tier.predict_proba(unseen_x, embeddings=e_out)
    s_in, s_out = tier.novelty_.scores(e_in, p_in), tier.novelty_.scores(e_out, p_out)
    assert auroc(s_in, s_out) > auroc(p_in.max(1), p_out.max(1))
    proba, familiar_in = tier.assess(test_x)
    np.testing.assert_allclose(proba, p_in, atol=1e-6)
    _, familiar_out = tier.assess(unseen_x)
    np.testing.assert_array_equal(familiar_in, s_in >= tier.novelty_.threshold)
    assert familiar_in.mean() >= 0.95  # the gate was set to cost 1 % of held-out rows
    assert (~familiar_out).mean() >= 0.4
    # at the same cost in in-scope tickets, a max-probability threshold rejects fewer unseen ones
    same_cost = np.quantile(p_in.max(1), (~familiar_in).mean())
    assert (~familiar_out).mean() > (p_out.max(1) < same_cost).mean() + 0.05
    loaded = EncoderClassifier.load(tier.save(tmp_path / "tier"))
    assert loaded.version == tier.version
    np.testing.assert_array_equal(loaded.assess(unseen_x)[1], familiar_out)


def test_gate_is_optional_and_absent_from_models_saved_before_it(encoder, split, tmp_path: Path):
    texts, labels = [t for t, _ in split["train"]], [lab for _, lab in split["train"]]
    emb = encoder.encode(texts)
    assert EncoderClassifier(ngram=False, novelty_reject=0.0, seed=0).fit(None, labels, embeddings=emb).novelty_ is None
    # 40 held-out rows are too few to place the threshold
    few = EncoderClassifier(ngram=False, seed=0).fit(None, labels[:400], embeddings=emb[:400])
    assert few.n_calibration_ == 40 and few.novelty_ is None
    assert few.assess(texts[:5], embeddings=emb[:5])[1].all()
    with pytest.raises(ValueError, match="novelty_reject"):
        EncoderClassifier(novelty_reject=1.0)
    head = EncoderClassifier(ngram=False, seed=0).fit(None, labels, embeddings=emb)
    out = head.save(tmp_path / "old")
    with np.load(out / "weights.npz") as w:
        old = {k: w[k] for k in ("w", "b", "mean", "scale")}
    np.savez_compressed(out / "weights.npz", **old)
    config = json.loads((out / "config.json").read_text())
    del config["params"]["novelty_reject"]
    (out / "config.json").write_text(json.dumps(config))
    assert EncoderClassifier.load(out).novelty_ is None
    # the on-device student has no gate: every ticket passes
    student = HashBagClassifier(epochs=2, seed=0).fit(texts, labels)
    proba, familiar = student.assess(texts[:3])
    np.testing.assert_allclose(proba, student.predict_proba(texts[:3]))
    assert familiar.all()


def test_catch_all_examples_do_not_count_as_familiar_ground(encoder, split):
    """Tickets like the `other` examples are what the taxonomy does not route."""
    other = [(t, "other") for t, _ in split["unseen"][::2]]
    rows = split["train"] + other
    tier = EncoderClassifier(ngram=False, seed=0).fit(None, [lab for _, lab in rows],
                                                       embeddings=encoder.encode([t for t, _ in rows]),
                                                       out_of_scope="other")
    assert "other" in tier.classes_ and tier.classes_.index("other") not in tier.novelty_.columns
    assert len(tier.novelty_.means) == 20


def _taxonomy(names: list[str]) -> Taxonomy:
    """One category per intent (BANKING77 names are not all lowercase: map them), plus `other`."""
    return Taxonomy(categories=[Category(name=n.lower(), description=n.replace("_", " "), source_labels=[n])
                                for n in names] + [Category(name="other", description="anything else")])


def test_pipeline_sends_unfamiliar_tickets_to_review_and_the_cascade_to_the_llm(tier, split, openai_server):
    tax = _taxonomy(tier.classes_)
    unseen_x = [t for t, _ in split["unseen"]]
    _, familiar = tier.assess(unseen_x)
    proba = tier.predict_proba(unseen_x)
    # a question of an unseen intent that the probabilities alone would have routed
    confident = [t for t, f, p in zip(unseen_x, familiar, proba.max(1)) if not f and p >= tax.thresholds.suggest]
    assert confident, "precondition: some unseen-intent questions get a confident label"
    ticket = confident[0]
    r = Pipeline(tax, tier, mode="fallback").classify(ticket)
    assert r.classifier is ClassifierSource.FALLBACK and r.score >= tax.thresholds.suggest
    assert r.decision is Decision.NEEDS_REVIEW and "novelty gate" in r.reason
    familiar_ticket = split["test"][0][0]
    assert Pipeline(tax, tier, mode="fallback").classify(familiar_ticket).decision is not Decision.NEEDS_REVIEW
    llm = LLMClassifier(build_client(openai_server.base_url, "k", 0.5), "sim-model", tax.names, sleep=lambda s: None)
    cascade = Pipeline(tax, tier, llm=llm, mode="cascade", cascade_threshold=0.0)
    r = cascade.classify(ticket)
    assert r.classifier is ClassifierSource.LLM and "novelty gate" in r.reason
    assert len(openai_server.requests) == 1
    assert cascade.classify(familiar_ticket).classifier is ClassifierSource.FALLBACK
    assert len(openai_server.requests) == 1
