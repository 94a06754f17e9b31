"""The featurizer is the contract with the phone ports: pin it with the shipped vectors."""

from __future__ import annotations

import numpy as np
import pytest

from plugin.fallback import load_fallback, model_path
from tflite_fallback.featurizer import Featurizer, features, fnv1a_32, normalize, tokenize
from tflite_fallback.vectors import VECTORS_FILE, load_vectors


@pytest.fixture(scope="module")
def vectors() -> dict:
    return load_vectors(model_path() / VECTORS_FILE)


def test_fnv1a_known_values() -> None:
    # Published FNV-1a 32-bit test values.
    assert fnv1a_32(b"") == 0x811C9DC5
    assert fnv1a_32(b"a") == 0xE40C292C
    assert fnv1a_32(b"foobar") == 0xBF9CF968


def test_normalize_nfkc_and_per_code_point_lowercase() -> None:
    assert normalize("Cafe\u0301") == "café"  # NFD accent composed by NFKC
    assert normalize("ﬁ ＡＢ x²") == "fi ab x2"
    assert normalize("ΣΟΦΟΣ") == "σοφοσ"  # no final-sigma context rule
    assert normalize("İ") == "i\u0307"


def test_tokenize_splits_on_non_letters_marks_numbers() -> None:
    assert tokenize("don't stop—now 📦42") == ["don", "t", "stop", "now", "42"]
    assert tokenize("मेरा ऑर्डर") == ["मेरा", "ऑर्डर"]  # combining marks stay inside tokens
    assert tokenize("a\u200bb") == ["a", "b"]
    assert tokenize("") == []


def test_feature_order_words_bigrams_chars() -> None:
    assert features("Hi yo", char_ngrams=(2, 3)) == [
        "w:hi", "w:yo", "b:hi yo", "c:<h", "c:hi", "c:i>", "c:<hi", "c:hi>",
        "c:<y", "c:yo", "c:o>", "c:<yo", "c:yo>"]


def test_ids_range_padding_and_truncation() -> None:
    f = Featurizer(n_buckets=101, max_len=16)
    x = f.transform(["refund please " * 50, ""])
    assert x.shape == (2, 16) and x.dtype == np.int32
    assert (x[0] >= 1).all() and (x[0] < 101).all()
    assert (x[1] == 0).all()


def test_shipped_vectors_reproduce(vectors: dict) -> None:
    feat = Featurizer.from_dict(vectors["featurizer"])
    assert len(vectors["cases"]) >= 15
    for case in vectors["cases"]:
        assert normalize(case["text"]) == case["normalized"]
        assert tokenize(case["normalized"]) == case["tokens"]
        assert feat.ids(case["text"]) == case["ids"], case["text"]
    for s, h in vectors["fnv1a_32"].items():
        assert fnv1a_32(s.encode("utf-8")) == h


def test_shipped_vectors_match_bundled_model(vectors: dict) -> None:
    model = load_fallback()
    assert vectors["classes"] == model.classes_
    assert vectors["model_version"] == model.version
    probs = model.predict_proba([c["text"] for c in vectors["cases"]])
    expected = np.array([c["probabilities"] for c in vectors["cases"]])
    np.testing.assert_allclose(probs, expected, atol=1e-6)
    assert any(len(c["ids"]) == feat_len for c in vectors["cases"]
               for feat_len in [vectors["featurizer"]["max_len"]])  # a truncated case exists


def test_spec_worked_example() -> None:
    """The worked example in FEATURIZER_SPEC.md, so the document cannot drift from the code."""
    text = "Café  REFUND? 📦"
    assert len(features(text)) == 39
    assert Featurizer(16384).ids(text)[:10] == [15442, 11898, 10649, 4531, 115, 13772, 3773, 1026,
                                                12034, 15441]
    assert Featurizer(32768).ids(text)[:5] == [30846, 5988, 29772, 152, 25001]
