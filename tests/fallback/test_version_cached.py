"""The model version is hashed once (load / fit), never per ticket: classification must not touch
hashlib, and the cached value is the hash of the weights actually loaded."""

from __future__ import annotations

import hashlib
import types

import numpy as np

import tflite_fallback.saved_model as model_module  # where the version is hashed
from plugin.config import load_settings
from plugin.fallback import model_path
from plugin.pipeline import Pipeline
from tflite_fallback.model import HashBagClassifier

TEXTS = ["I was charged twice for my order", "my parcel never arrived", "how do I reset my password",
         "the app crashes when I open settings"] * 5


def _counting_hashlib(calls: list[str]) -> types.SimpleNamespace:
    def sha256(*args, **kwargs):
        calls.append("sha256")
        return hashlib.sha256(*args, **kwargs)
    return types.SimpleNamespace(sha256=sha256)


def test_classification_never_rehashes_the_weights(tmp_path, monkeypatch):
    pipeline = Pipeline.from_settings(load_settings({"instance_dir": tmp_path / "instance",
                                                     "classifier": "fallback"}, env={}))
    expected = pipeline.classify(TEXTS[0]).model_version  # model loaded (and hashed) by now
    calls: list[str] = []
    monkeypatch.setattr(model_module, "hashlib", _counting_hashlib(calls))
    versions = {pipeline.classify(t).model_version for t in TEXTS}
    assert calls == [] and versions == {expected}


def test_version_is_computed_at_load_and_matches_the_weights(monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(model_module, "hashlib", _counting_hashlib(calls))
    model = HashBagClassifier.load(model_path())
    assert calls == ["sha256"]  # once, at load
    first = model.version
    assert all(model.version is first for _ in range(10)) and calls == ["sha256"]
    monkeypatch.undo()
    assert first == model._hash_version()  # the cache holds the real hash of these weights
    assert first.endswith(model_module.json.loads((model_path() / "config.json").read_text())["version"][-12:])


def test_fit_ends_with_the_version_of_the_trained_weights():
    texts = ["refund please", "where is my parcel", "money back now", "parcel lost"] * 4
    labels = ["refund", "delivery", "refund", "delivery"] * 4
    model = HashBagClassifier(n_buckets=256, dim=8, epochs=2, calib_fraction=0.0).fit(texts, labels)
    before = model.version
    assert before == model._hash_version()
    clone = HashBagClassifier(**model.get_params())
    clone.__dict__.update({k: v for k, v in model.__dict__.items() if k.endswith("_")})
    clone.embedding_ = np.zeros_like(model.embedding_)  # arrays set by hand: hashed on first read
    assert clone.version != before
