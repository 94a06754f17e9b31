"""Estimator API, calibration, determinism and distillation of the hashed-bag classifier."""

from __future__ import annotations

import numpy as np
import pytest

from tflite_fallback.calibration import expected_calibration_error, fit_temperature, softmax
from tflite_fallback.model import HashBagClassifier

SMALL = dict(n_buckets=1 << 12, dim=8, epochs=6, max_len=128)


def _fit(train, **kw) -> HashBagClassifier:
    return HashBagClassifier(**{**SMALL, **kw}).fit([i.text for i in train], [i.label for i in train])


def test_init_stores_params_only() -> None:
    m = HashBagClassifier(dim=4, seed=3)
    assert m.get_params()["dim"] == 4 and m.get_params()["seed"] == 3
    assert not [k for k in vars(m) if k.endswith("_")]
    with pytest.raises(ValueError):
        m.fit(["a"], None)


def test_fit_predict_api_and_accuracy(small_split) -> None:
    train, test = small_split
    m = _fit(train)
    assert m.classes_ == sorted({i.label for i in train})
    probs = m.predict_proba([i.text for i in test])
    assert probs.shape == (len(test), len(m.classes_))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    preds = m.predict([i.text for i in test])
    assert preds == [m.classes_[j] for j in probs.argmax(axis=1)]
    assert m.score([i.text for i in test], [i.label for i in test]) > 0.85
    assert m.embed(["refund please", ""]).shape == (2, SMALL["dim"])


def test_classes_order_is_respected(small_split) -> None:
    train, _ = small_split
    order = sorted({i.label for i in train}, reverse=True)
    m = HashBagClassifier(**SMALL).fit([i.text for i in train], [i.label for i in train], classes=order)
    assert m.classes_ == order
    p = m.predict_proba(["I want my money back, refund please"])[0]
    assert m.classes_[int(p.argmax())] == "refund"


def test_deterministic_given_seed(small_split) -> None:
    train, test = small_split
    a, b = _fit(train[:300], seed=7), _fit(train[:300], seed=7)
    c = _fit(train[:300], seed=8)
    texts = [i.text for i in test[:50]]
    assert a.version == b.version
    np.testing.assert_array_equal(a.predict_proba(texts), b.predict_proba(texts))
    assert a.version != c.version


def test_save_load_roundtrip(tmp_path, small_split) -> None:
    train, test = small_split
    m = _fit(train[:300])
    m.save(tmp_path / "m")
    loaded = HashBagClassifier.load(tmp_path / "m")
    texts = [i.text for i in test[:30]]
    np.testing.assert_array_equal(m.predict_proba(texts), loaded.predict_proba(texts))
    assert loaded.version == m.version and loaded.classes_ == m.classes_
    assert (tmp_path / "m" / "labels.txt").read_text().split() == m.classes_


def test_padding_row_stays_zero(small_split) -> None:
    m = _fit(small_split[0][:200])
    assert not m.embedding_[0].any()


def test_temperature_scaling_fixes_overconfidence() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, size=2000)
    logits = rng.normal(size=(2000, 4))
    logits[np.arange(2000), y] += 1.0
    logits *= 5.0  # same ranking, far too confident
    onehot = np.eye(4)[y]
    t = fit_temperature(logits, onehot)
    assert 3.0 < t < 7.0
    before = expected_calibration_error(softmax(logits), y)
    after = expected_calibration_error(softmax(logits / t), y)
    assert after < before / 2


def test_model_calibration_on_held_out(small_split) -> None:
    train, test = small_split
    m = _fit(train)
    probs = m.predict_proba([i.text for i in test])
    y = np.array([m.classes_.index(i.label) for i in test])
    assert expected_calibration_error(probs, y) < 0.1


def test_distillation_moves_student_toward_teacher(small_split) -> None:
    """Teacher says every `refund` ticket is 70 % refund / 30 % billing; the student follows."""
    train, test = small_split
    classes = sorted({i.label for i in train})
    ri, bi = classes.index("refund"), classes.index("billing")
    soft = np.eye(len(classes))[[classes.index(i.label) for i in train]]
    refund_rows = soft[:, ri] == 1
    soft[refund_rows, ri], soft[refund_rows, bi] = 0.7, 0.3
    texts = [i.text for i in train]
    kw = {**SMALL, "calib_fraction": 0.0}
    hard = HashBagClassifier(**kw).fit(texts, [i.label for i in train])
    student = HashBagClassifier(**kw).fit(texts, soft_targets=soft, classes=classes)
    refund_test = [i.text for i in test if i.label == "refund"]
    p_hard = hard.predict_proba(refund_test)[:, bi].mean()
    p_student = student.predict_proba(refund_test)[:, bi].mean()
    assert p_student > p_hard + 0.1
    assert 0.15 < p_student < 0.45
    # the teacher's arg-max is still refund, on average and for most tickets
    p = student.predict_proba(refund_test)
    assert p[:, ri].mean() > p[:, bi].mean()
    assert np.mean(p.argmax(1) == ri) > 0.6


def test_embedding_targets_teach_which_other_class_a_text_is_near() -> None:
    """Three classes: the labels say kettle and toaster refunds are equally refunds, the teacher's
    embeddings put kettle refunds nearer the deliveries and toaster refunds nearer the accounts,
    and the student's second choice follows the teacher (hard labels alone say nothing about it)."""
    topics = {"refund": [("money back for the kettle", (0.4, 1.0)), ("money back for the toaster", (-0.4, 1.0))],
              "delivery": [("parcel never arrived", (1.0, 0.0)), ("courier lost the parcel", (1.0, 0.0))],
              "account": [("cannot log in", (-1.0, 0.0)), ("password reset fails", (-1.0, 0.0))]}
    rng = np.random.default_rng(0)
    texts, labels, targets = [], [], []
    for label, phrases in topics.items():
        for phrase, (across, up) in phrases:
            for _ in range(40):
                noise = " ".join(rng.choice(["please", "hi", "thanks", "urgent", "today"], 2))
                texts.append(f"{noise} {phrase}")
                labels.append(label)
                targets.append(np.array([across, up, 1.0, 0.0]) + rng.normal(0, 0.05, 4))
    kw = {**SMALL, "epochs": 10, "calib_fraction": 0.0, "embedding_weight": 4.0}
    plain = HashBagClassifier(**kw).fit(texts, labels)
    taught = HashBagClassifier(**kw).fit(texts, labels, embedding_targets=np.array(targets))
    kettle, toaster = "money back for the kettle", "money back for the toaster"

    def leaning(m: HashBagClassifier) -> float:
        """How much more the kettle refund leans to delivery over account than the toaster refund."""
        p = m.predict_proba([kettle, toaster])
        ratio = np.log(p[:, m.classes_.index("delivery")] / p[:, m.classes_.index("account")])
        return float(ratio[0] - ratio[1])

    assert leaning(taught) > leaning(plain) + 0.4
    assert taught.predict([kettle, toaster, "courier lost the parcel"]) == ["refund", "refund", "delivery"]
    off = HashBagClassifier(**{**kw, "embedding_weight": 0.0}).fit(texts, labels, embedding_targets=np.array(targets))
    assert off.version == plain.version  # weight 0 (the default): the targets are ignored
    assert HashBagClassifier().embedding_weight == 0.0
    # the projection is for training only: the exported arrays are the same as without it
    assert [a.shape for a in taught._version_parts()[0]] == [a.shape for a in plain._version_parts()[0]]
    with pytest.raises(ValueError, match="embedding_targets"):
        HashBagClassifier(**kw).fit(texts, labels, embedding_targets=np.ones((3, 4)))
    with pytest.raises(ValueError, match="embedding_targets"):  # checked even where the weight is 0
        HashBagClassifier(**{**kw, "embedding_weight": 0.0}).fit(texts, labels, embedding_targets=np.ones((3, 4)))


def test_soft_targets_validation() -> None:
    with pytest.raises(ValueError):
        HashBagClassifier().fit(["a", "b"], soft_targets=np.ones((2, 2)))  # no classes
    with pytest.raises(ValueError):
        HashBagClassifier().fit(["a", "b"], soft_targets=np.ones((2, 3)), classes=["x", "y"])


def test_held_out_metrics_measured_before_refit(small_split) -> None:
    train, _ = small_split
    m = _fit(train, refit=True)
    assert m.held_out_["rows"] == round(len(train) * 0.1)
    assert 0.8 < m.held_out_["accuracy"] <= 1.0 and 0.0 <= m.held_out_["ece"] < 0.2
    assert m.n_train_ == len(train)  # the final model saw every row
    no_refit = _fit(train, refit=False)
    assert no_refit.n_train_ == len(train) - m.held_out_["rows"]
    assert no_refit.temperature_ == pytest.approx(m.temperature_)  # same first phase, same T


def test_progress_reports_every_step(small_split) -> None:
    seen: list[tuple[int, int]] = []
    HashBagClassifier(**{**SMALL, "epochs": 2}).fit(
        [i.text for i in small_split[0][:100]], [i.label for i in small_split[0][:100]],
        progress=lambda step, total: seen.append((step, total)))
    steps = [s for s, _ in seen]
    assert steps == list(range(1, len(steps) + 1)) and seen[-1][0] == seen[-1][1]
