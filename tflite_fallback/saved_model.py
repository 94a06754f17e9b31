"""What both fallback tiers share: a version that names the weights, and one on-disk layout.

A model directory holds ``weights.npz``, ``config.json`` (``kind``, classes, temperature, params,
training metadata) and ``labels.txt``; the version is ``<trained date>-<12 hex of the sha256 of the
weights>``, so it changes whenever the numbers do and a phone or a Result can name the exact model.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Sequence

import numpy as np

WEIGHTS_FILE = "weights.npz"
CONFIG_FILE = "config.json"
LABELS_FILE = "labels.txt"


class SavedClassifier:
    """Mixin: ``predict``/``score`` from ``predict_proba``, the cached version, save/load plumbing.

    Subclasses provide ``predict_proba``, ``_version_parts()`` (the arrays and the identity tuple
    that the version hashes) and call :meth:`_write` / :meth:`restore_metadata`.
    """

    classes_: list[str]

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [self.classes_[i] for i in self.predict_proba(texts).argmax(axis=1)]  # type: ignore[attr-defined]

    def assess(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated probabilities and, per text, whether it is like the training tickets. Only the
        server tier has a novelty gate (:mod:`~tflite_fallback.novelty`); here every text passes."""
        proba = self.predict_proba(texts)  # type: ignore[attr-defined]
        return proba, np.ones(len(proba), bool)

    def score(self, texts: Sequence[str], labels: Sequence[str]) -> float:
        """Accuracy, as in scikit-learn."""
        return float(np.mean([p == y for p, y in zip(self.predict(texts), labels)]))

    @property
    def version(self) -> str:
        """Hashed once, when ``fit`` ends or ``load`` finishes, and read from then on: the pipeline
        reads it for every ticket, and hashing megabytes of weights each time would cost more than
        the classification. A model whose arrays are set by hand hashes on first read."""
        cached = self.__dict__.get("_version")
        if cached is None:
            cached = self._version = self._hash_version()
        return cached

    def _hash_version(self) -> str:
        arrays, identity = self._version_parts()
        h = hashlib.sha256()
        for arr in arrays:
            h.update(np.ascontiguousarray(arr).tobytes())
        h.update(repr(identity).encode())
        return f"{self.trained_at_}-{h.hexdigest()[:12]}"

    def _version_parts(self) -> tuple[list[np.ndarray], tuple]:
        raise NotImplementedError

    def _write(self, directory: str | Path, arrays: dict[str, np.ndarray], config: dict) -> Path:
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(out / WEIGHTS_FILE, **arrays)
        (out / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", "utf-8")
        (out / LABELS_FILE).write_text("\n".join(self.classes_) + "\n", "utf-8")
        return out

    def _common_config(self, metrics: dict | None) -> dict:
        return {"classes": self.classes_, "temperature": self.temperature_, "trained_at": self.trained_at_,
                "n_train": self.n_train_, "n_calibration": self.n_calibration_, "held_out": self.held_out_,
                "metrics": metrics or {}}

    def restore_metadata(self, config: dict) -> None:
        """Set classes, temperature and training metadata from a saved ``config.json`` (``load`` uses it)."""
        self.classes_ = list(config["classes"])
        self.temperature_ = float(config["temperature"])
        self.trained_at_ = config["trained_at"]
        self.n_train_ = config.get("n_train", 0)
        self.n_calibration_ = config.get("n_calibration", 0)
        self.metrics_ = config.get("metrics", {})
        self.held_out_ = config.get("held_out", {})
        self._version = self._hash_version()  # once, here; never per prediction


def read_config(directory: str | Path) -> dict:
    return json.loads((Path(directory) / CONFIG_FILE).read_text("utf-8"))


def resolve_classes(labels: Sequence[str] | None, soft_targets: np.ndarray | None,
                    classes: Sequence[str] | None) -> list[str]:
    """The column order ``fit`` trains: ``classes``, else the sorted hard labels."""
    if labels is None and soft_targets is None:
        raise ValueError("fit needs labels or soft_targets")
    if classes is None:
        if labels is None:
            raise ValueError("soft_targets need `classes` (their column order)")
        classes = sorted(set(labels))
    return [str(c) for c in classes]
