"""Load the offline fallback model (``tflite_fallback``) once per directory and share it.

The pipeline calls :func:`load_fallback` on every classification that has no LLM, so loading is
cached and thread-safe (webhook workers run in threads). The returned model is read-only after
loading; ``predict_proba`` is safe to call from several threads.
"""

from __future__ import annotations

import threading
from importlib import resources
from pathlib import Path

from tflite_fallback.encoder_model import EncoderClassifier, load_model
from tflite_fallback.model import HashBagClassifier

from .exceptions import ConfigError

DEFAULT_MODEL = "default"

# What callers get: .classes_, .version, .predict_proba(texts), .assess(texts), .embed(texts). A
# model directory holds either the on-device student (the bundled default) or the server tier
# (sentence encoder + head + novelty gate, `triage train --tier server`); its config.json says which.
FallbackModel = HashBagClassifier | EncoderClassifier

_CACHE: dict[str, FallbackModel] = {}
_LOCK = threading.Lock()


def model_path(model_dir: str | Path = DEFAULT_MODEL) -> Path:
    """The directory behind a ``model_dir`` setting; ``"default"`` is the bundled model."""
    if str(model_dir) == DEFAULT_MODEL:
        return Path(str(resources.files("tflite_fallback").joinpath("models", "default")))
    return Path(model_dir).expanduser().resolve()


def load_fallback(model_dir: str | Path = DEFAULT_MODEL) -> FallbackModel:
    """Load (once) and return the fallback model in ``model_dir``.

    Raises:
        ConfigError: the directory is missing or does not hold a readable model.
    """
    path = model_path(model_dir)
    key = str(path)
    model = _CACHE.get(key)
    if model is not None:
        return model
    with _LOCK:
        model = _CACHE.get(key)
        if model is None:
            try:
                model = load_model(path)
            except (OSError, KeyError, ValueError) as exc:
                raise ConfigError(f"cannot load fallback model from {path}: {exc}") from exc
            _CACHE[key] = model
    return model


def clear_cache() -> None:
    """Forget loaded models (after retraining into the same directory, and in tests)."""
    with _LOCK:
        _CACHE.clear()


def sentence_encoder(model_dir: str | Path = DEFAULT_MODEL):
    """The pretrained sentence encoder behind the model in ``model_dir`` when it is the server tier,
    else None (the bundled student has no pretrained knowledge); the taxonomy audit clusters in it."""
    model = load_fallback(model_dir)
    return model.encoder if isinstance(model, EncoderClassifier) else None
