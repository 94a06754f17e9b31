"""The server tier: all-MiniLM-L6-v2 embeddings -> softmax regression, temperature-calibrated.

Where size does not matter (the server), a pretrained sentence encoder with a linear head is the
strongest classifier that still trains in seconds on a laptop: it knows that "top up" and "add
money" mean the same thing, which a hashed n-gram model must learn from examples. It is also the
teacher the on-device student is distilled from (:mod:`tflite_fallback.distill`).

Same contract as :class:`~tflite_fallback.model.HashBagClassifier` (``classes_``, ``version``,
``predict_proba`` in ``classes_`` order, calibrated; ``embed``; ``save``/``load``), so the pipeline,
the cascade and retrieval take either; a model directory says which it holds (``config.json`` kind).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .calibration import calibrate_held_out, softmax
from .optim import adam_step, decayed_lr, minibatches
from .saved_model import WEIGHTS_FILE, SavedClassifier, read_config, resolve_classes

KIND = "encoder"
FORMAT_VERSION = 1


class EncoderClassifier(SavedClassifier):
    """Sentence-encoder embeddings with a multinomial logistic-regression head.

    Args:
        l2: L2 penalty on the head's weights. 1e-3 measured best on a BANKING77 validation split
            (93.0 % vs 92.4 % at 1e-4; bench/bench_teacher.py).
        epochs, batch_size, lr: Adam schedule for the head (lr decays linearly to 10 %).
        calib_fraction: share of rows held out to fit the temperature and report ``held_out_``.
        seed: split, initialisation and shuffling.
        encoder: an object with ``encode(texts) -> [n, dim]`` and ``dim``; default: the shared
            :class:`~tflite_fallback.minilm.SentenceEncoder` (loaded on first use).
    """

    kind = KIND

    def __init__(self, l2: float = 1e-3, epochs: int = 60, batch_size: int = 128, lr: float = 0.01,
                 calib_fraction: float = 0.1, seed: int = 0, encoder=None) -> None:
        self.l2 = l2
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.calib_fraction = calib_fraction
        self.seed = seed
        self._encoder = encoder

    def get_params(self) -> dict:
        return {k: getattr(self, k) for k in ("l2", "epochs", "batch_size", "lr", "calib_fraction", "seed")}

    @property
    def encoder(self):
        if self._encoder is None:
            from .minilm import shared_encoder

            self._encoder = shared_encoder()
        return self._encoder

    # --- training -----------------------------------------------------------------------------
    def fit(self, texts: Sequence[str] | None, labels: Sequence[str] | None = None, *,
            soft_targets: np.ndarray | None = None, classes: Sequence[str] | None = None,
            embeddings: np.ndarray | None = None,
            progress: Callable[[int, int], None] | None = None) -> "EncoderClassifier":
        """Train the head on hard labels or soft targets; ``embeddings`` (then ``texts`` may be None)
        skips re-encoding."""
        self.classes_ = resolve_classes(labels, soft_targets, classes)
        index = {c: i for i, c in enumerate(self.classes_)}
        x = self.encoder.encode(list(texts or [])) if embeddings is None else np.asarray(embeddings, np.float32)
        n, k = len(x), len(self.classes_)
        if soft_targets is not None:
            targets = np.clip(np.asarray(soft_targets, np.float64), 0, None)
            targets /= np.maximum(targets.sum(axis=1, keepdims=True), 1e-12)
        else:
            unknown = sorted({lab for lab in labels if lab not in index})
            if unknown:
                raise ValueError(f"labels not in classes: {unknown[:5]}")
            targets = np.zeros((n, k))
            targets[np.arange(n), [index[lab] for lab in labels]] = 1.0
        rng = np.random.default_rng(self.seed)
        order = rng.permutation(n)
        n_cal = int(round(n * self.calib_fraction)) if n >= 20 else 0
        cal, tr = order[:n_cal], order[n_cal:]
        self.mean_ = x[tr].mean(axis=0).astype(np.float32)
        self.scale_ = np.maximum(x[tr].std(axis=0), 1e-6).astype(np.float32)
        z = (x - self.mean_) / self.scale_
        self._train(z[tr], targets[tr], rng, progress)
        self.temperature_ = 1.0
        self.held_out_ = {}
        if n_cal:
            self.temperature_, self.held_out_ = calibrate_held_out(self._logits(z[cal]), targets[cal])
        self.n_train_ = int(len(tr))
        self.n_calibration_ = int(n_cal)
        self.trained_at_ = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        self._version = self._hash_version()
        return self

    def _train(self, z: np.ndarray, targets: np.ndarray, rng: np.random.Generator,
               progress: Callable[[int, int], None] | None) -> None:
        self.w_ = np.zeros((z.shape[1], targets.shape[1]), np.float32)
        self.b_ = np.zeros(targets.shape[1], np.float32)
        m = {"w_": np.zeros_like(self.w_), "b_": np.zeros_like(self.b_)}
        v = {"w_": np.zeros_like(self.w_), "b_": np.zeros_like(self.b_)}
        for step, total, batch in minibatches(len(z), self.batch_size, self.epochs, rng):
            lr = decayed_lr(self.lr, step, total)
            xb = z[batch]
            g_logits = ((softmax(xb @ self.w_ + self.b_) - targets[batch]) / len(batch)).astype(np.float32)
            grads = {"w_": xb.T @ g_logits + self.l2 * self.w_, "b_": g_logits.sum(axis=0)}
            for p, g in grads.items():
                m[p], v[p], delta = adam_step(g, m[p], v[p], step, lr)
                setattr(self, p, (getattr(self, p) - delta).astype(np.float32))
            if progress is not None:
                progress(step, total)

    # --- inference ----------------------------------------------------------------------------
    def _logits(self, z: np.ndarray) -> np.ndarray:
        return (z @ self.w_ + self.b_).astype(np.float64)

    def predict_proba_embeddings(self, x: np.ndarray) -> np.ndarray:
        """Calibrated probabilities from encoder embeddings (skips the encoder)."""
        if len(x) == 0:
            return np.zeros((0, len(self.classes_)))
        return softmax(self._logits((np.asarray(x, np.float32) - self.mean_) / self.scale_) / self.temperature_)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities, columns in ``classes_`` order."""
        return self.predict_proba_embeddings(self.encoder.encode(list(texts)))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """The encoder's unit-length sentence embeddings (for retrieval)."""
        return self.encoder.encode(list(texts))

    # --- persistence --------------------------------------------------------------------------
    def _version_parts(self) -> tuple[list[np.ndarray], tuple]:
        from .minilm import NAME, PINS

        return ([self.w_, self.b_, self.mean_, self.scale_],
                (self.classes_, self.temperature_, NAME, PINS["weights"].sha256))

    def save(self, directory: str | Path, metrics: dict | None = None) -> Path:
        from .minilm import NAME, PINS

        return self._write(directory, {"w": self.w_, "b": self.b_, "mean": self.mean_, "scale": self.scale_},
                           {"format": FORMAT_VERSION, "kind": KIND, "version": self.version,
                            "encoder": {"name": NAME, "weights_sha256": PINS["weights"].sha256},
                            "params": self.get_params(), **self._common_config(metrics)})

    @classmethod
    def load(cls, directory: str | Path, encoder=None) -> "EncoderClassifier":
        from .minilm import PINS

        d = Path(directory)
        config = read_config(d)
        if config.get("kind") != KIND:
            raise ValueError(f"{d}: not a {KIND} model (kind {config.get('kind')!r})")
        if config["encoder"]["weights_sha256"] != PINS["weights"].sha256:
            raise ValueError(f"{d}: trained on other encoder weights than the pinned {PINS['weights'].package}")
        model = cls(**config["params"], encoder=encoder)
        with np.load(d / WEIGHTS_FILE) as w:
            model.w_, model.b_ = w["w"].astype(np.float32), w["b"].astype(np.float32)
            model.mean_, model.scale_ = w["mean"].astype(np.float32), w["scale"].astype(np.float32)
        model.restore_metadata(config)
        model.encoder  # noqa: B018 - load the encoder now: a missing teacher install fails here, not per ticket
        return model


def load_model(directory: str | Path):
    """Either model kind from its directory (``config.json`` says which)."""
    from .model import HashBagClassifier

    if read_config(directory).get("kind") == KIND:
        return EncoderClassifier.load(directory)
    return HashBagClassifier.load(directory)
