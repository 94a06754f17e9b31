"""The server tier: all-MiniLM-L6-v2 embeddings -> softmax regression, times an n-gram bag.

Where size does not matter (the server), a pretrained sentence encoder with a linear head knows
that "top up" and "add money" mean the same thing, which a hashed n-gram model must learn from
examples. The n-gram bag (the on-device student's architecture, trained on the same rows) knows
what the frozen encoder blurs: exact words, product names, typos. They make different mistakes,
so the tier multiplies their calibrated distributions (a product of experts: a weighted mean of
their log-probabilities, the weight and one final temperature fitted on the held-out rows). On
validation splits the product beats either expert and both peers (bench/bench_teacher.py:
BANKING77 93.3 % vs 93.0 % for the encoder alone and 90.7 % for the bag; HWU64 92.8 % vs 89.9 /
89.9 %). It is also the teacher the on-device student is distilled from
(:mod:`tflite_fallback.distill`).

Same contract as :class:`~tflite_fallback.model.HashBagClassifier` (``classes_``, ``version``,
``predict_proba`` in ``classes_`` order, calibrated; ``embed``; ``save``/``load``), so the pipeline,
the cascade and retrieval take either; a model directory says which it holds (``config.json`` kind).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .calibration import calibrate_held_out, fit_temperature, log_softmax, nll, softmax
from .model import HashBagClassifier
from .novelty import MIN_HELD_OUT, NoveltyGate
from .optim import adam_step, decayed_lr, minibatches
from .saved_model import WEIGHTS_FILE, SavedClassifier, read_config, resolve_classes

KIND = "encoder"
FORMAT_VERSION = 1


NGRAM_DIR = "ngram"  # the n-gram expert's own model directory inside the tier's
MIXTURE_GRID = np.linspace(0.0, 1.0, 11)  # candidate weights of the n-gram expert in the product


class EncoderClassifier(SavedClassifier):
    """Sentence-encoder embeddings with a multinomial logistic-regression head, times an n-gram bag.

    Args:
        l2: L2 penalty on the head's weights. 1e-3 measured best on a BANKING77 validation split
            (93.0 % vs 92.4 % at 1e-4; bench/bench_teacher.py).
        epochs, batch_size, lr: Adam schedule for the head (lr decays linearly to 10 %).
        calib_fraction: share of rows held out to fit the temperature and report ``held_out_``.
        ngram: also train the n-gram expert (a default :class:`HashBagClassifier`) on the same
            rows and multiply the two; False = the encoder head alone (the bundled model's teacher
            and the MiniLM+LR peer in bench/).
        novelty_reject: share of held-out in-scope rows the novelty gate
            (:mod:`~tflite_fallback.novelty`) may reject; it is the gate's expected cost in in-scope
            tickets sent to review. 0 = no gate; none either with fewer than 50 held-out rows.
        seed: split, initialisation and shuffling.
        encoder: an object with ``encode(texts) -> [n, dim]`` and ``dim``; default: the shared
            :class:`~tflite_fallback.minilm.SentenceEncoder` (loaded on first use).
    """

    kind = KIND

    def __init__(self, l2: float = 1e-3, epochs: int = 60, batch_size: int = 128, lr: float = 0.01,
                 calib_fraction: float = 0.1, ngram: bool = True, novelty_reject: float = 0.01, seed: int = 0,
                 encoder=None) -> None:
        if not 0.0 <= novelty_reject < 1.0:
            raise ValueError(f"novelty_reject must be in [0, 1), not {novelty_reject}")
        self.l2 = l2
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.calib_fraction = calib_fraction
        self.ngram = ngram
        self.novelty_reject = novelty_reject
        self.seed = seed
        self._encoder = encoder

    def get_params(self) -> dict:
        return {k: getattr(self, k) for k in ("l2", "epochs", "batch_size", "lr", "calib_fraction", "ngram",
                                               "novelty_reject", "seed")}

    @property
    def encoder(self):
        if self._encoder is None:
            from .minilm import shared_encoder

            self._encoder = shared_encoder()
        return self._encoder

    # --- training -----------------------------------------------------------------------------
    def fit(self, texts: Sequence[str] | None, labels: Sequence[str] | None = None, *,
            soft_targets: np.ndarray | None = None, classes: Sequence[str] | None = None,
            embeddings: np.ndarray | None = None, out_of_scope: str | None = None,
            progress: Callable[[int, int], None] | None = None) -> "EncoderClassifier":
        """Train on hard labels or soft targets. ``embeddings`` skips re-encoding; ``texts`` may then
        be None only without the n-gram expert (``ngram=False``). ``out_of_scope``: the taxonomy's
        catch-all class, which the novelty gate does not count as familiar ground."""
        self.classes_ = resolve_classes(labels, soft_targets, classes)
        index = {c: i for i, c in enumerate(self.classes_)}
        if self.ngram and texts is None:
            raise ValueError("the n-gram expert trains on the texts: pass them (or ngram=False)")
        texts = list(texts or [])
        x = self.encoder.encode(texts) if embeddings is None else np.asarray(embeddings, np.float32)
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
        head_steps = max(1, -(-len(tr) // self.batch_size)) * self.epochs
        report = None if progress is None else (lambda step, _t: progress(step, 2 * head_steps if self.ngram
                                                                            else head_steps))
        self._train(z[tr], targets[tr], rng, report)
        self.ngram_ = None
        if self.ngram:
            self.ngram_ = HashBagClassifier(calib_fraction=0.0, seed=self.seed).fit(
                [texts[i] for i in tr], soft_targets=targets[tr], classes=self.classes_,
                progress=None if progress is None else
                (lambda step, total: progress(head_steps + round(step * head_steps / total), 2 * head_steps)))
        self.head_temperature_ = self.ngram_temperature_ = self.temperature_ = 1.0
        self.ngram_weight_ = 0.5 if self.ngram else 0.0
        self.held_out_ = {}
        self.novelty_ = None
        if n_cal:
            logits = self._logits(z[cal])
            if self.ngram:
                bag_logits = self.ngram_.raw_logits([texts[i] for i in cal])
                self._fit_mixture(logits, bag_logits, targets[cal])
                logits = self._mix(logits, bag_logits, self.ngram_weight_)
            self.temperature_, self.held_out_ = calibrate_held_out(logits, targets[cal])
            self._fit_novelty(x, targets.argmax(axis=1), tr, cal, softmax(logits / self.temperature_),
                              out_of_scope)
        self.n_train_ = int(len(tr))
        self.n_calibration_ = int(n_cal)
        self.trained_at_ = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        self._version = self._hash_version()
        return self

    def _fit_novelty(self, x: np.ndarray, labels: np.ndarray, tr: np.ndarray, cal: np.ndarray,
                     cal_proba: np.ndarray, out_of_scope: str | None) -> None:
        """The novelty gate on the in-scope rows: means from the training rows, reference and
        threshold from the held-out ones (none with too few of them)."""
        columns = np.array([i for i, c in enumerate(self.classes_) if c != out_of_scope])
        in_tr, in_cal = np.isin(labels[tr], columns), np.isin(labels[cal], columns)
        if self.novelty_reject > 0 and in_cal.sum() >= MIN_HELD_OUT:
            self.novelty_ = NoveltyGate.fit(x[tr][in_tr], labels[tr][in_tr], x[cal][in_cal], cal_proba[in_cal],
                                            self.novelty_reject, columns)

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

    def _fit_mixture(self, head_logits: np.ndarray, bag_logits: np.ndarray, targets: np.ndarray) -> None:
        """Each expert's temperature, then the bag's weight in the product (0, 0.1, ..., 1) that
        minimises the held-out NLL: with few rows per class the bag is weak and weighs less."""
        self.head_temperature_ = fit_temperature(head_logits, targets)
        self.ngram_temperature_ = fit_temperature(bag_logits, targets)
        losses = []
        for w in MIXTURE_GRID:
            mixed = self._mix(head_logits, bag_logits, w)
            losses.append(nll(mixed, targets, fit_temperature(mixed, targets)))
        self.ngram_weight_ = float(MIXTURE_GRID[int(np.argmin(losses))])

    # --- inference ----------------------------------------------------------------------------
    def _logits(self, z: np.ndarray) -> np.ndarray:
        return (z @ self.w_ + self.b_).astype(np.float64)

    def _mix(self, head_logits: np.ndarray, bag_logits: np.ndarray, bag_weight: float) -> np.ndarray:
        """The weighted mean of both experts' calibrated log-probabilities (the final temperature
        divides it)."""
        return ((1 - bag_weight) * log_softmax(head_logits / self.head_temperature_)
                + bag_weight * log_softmax(bag_logits / self.ngram_temperature_))

    def predict_proba(self, texts: Sequence[str], embeddings: np.ndarray | None = None) -> np.ndarray:
        """Calibrated probabilities, columns in ``classes_`` order; ``embeddings`` (the encoder's, for
        these texts) skips the encoder."""
        texts = list(texts)
        x = self.encoder.encode(texts) if embeddings is None else np.asarray(embeddings, np.float32)
        return self._proba(texts, x)

    def assess(self, texts: Sequence[str], embeddings: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated probabilities and, per text, whether the novelty gate finds it like the training
        tickets (all True without a gate), from one pass of the encoder."""
        texts = list(texts)
        x = self.encoder.encode(texts) if embeddings is None else np.asarray(embeddings, np.float32)
        proba = self._proba(texts, x)
        if self.novelty_ is None or len(x) == 0:
            return proba, np.ones(len(proba), bool)
        return proba, self.novelty_.familiar(x, proba)

    def _proba(self, texts: list[str], x: np.ndarray) -> np.ndarray:
        if len(x) == 0:
            return np.zeros((0, len(self.classes_)))
        logits = self._logits((x - self.mean_) / self.scale_)
        if self.ngram_ is not None:
            if len(texts) != len(x):
                raise ValueError(f"{len(texts)} texts for {len(x)} embeddings: the n-gram expert reads the texts")
            logits = self._mix(logits, self.ngram_.raw_logits(texts), self.ngram_weight_)
        return softmax(logits / self.temperature_)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """The encoder's unit-length sentence embeddings (for retrieval)."""
        return self.encoder.encode(list(texts))

    # --- persistence --------------------------------------------------------------------------
    def _version_parts(self) -> tuple[list[np.ndarray], tuple]:
        from .minilm import NAME, PINS

        temperatures = (self.temperature_, self.head_temperature_, self.ngram_temperature_, self.ngram_weight_)
        gate = list(self.novelty_.to_arrays().values()) if self.novelty_ is not None else []
        return ([self.w_, self.b_, self.mean_, self.scale_, *gate],
                (self.classes_, temperatures, NAME, PINS["weights"].sha256,
                 self.ngram_.version if self.ngram_ is not None else None))

    def save(self, directory: str | Path, metrics: dict | None = None) -> Path:
        from .minilm import NAME, PINS

        if self.ngram_ is not None:
            self.ngram_.save(Path(directory) / NGRAM_DIR)
        gate = self.novelty_.to_arrays() if self.novelty_ is not None else {}
        return self._write(directory, {"w": self.w_, "b": self.b_, "mean": self.mean_, "scale": self.scale_,
                                       **gate},
                           {"format": FORMAT_VERSION, "kind": KIND, "version": self.version,
                            "encoder": {"name": NAME, "weights_sha256": PINS["weights"].sha256},
                            "experts": {"head_temperature": self.head_temperature_,
                                        "ngram_temperature": self.ngram_temperature_,
                                        "ngram_weight": self.ngram_weight_},
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
        model = cls(**{"ngram": False, **config["params"]}, encoder=encoder)  # saved before the expert: none
        with np.load(d / WEIGHTS_FILE) as w:
            model.w_, model.b_ = w["w"].astype(np.float32), w["b"].astype(np.float32)
            model.mean_, model.scale_ = w["mean"].astype(np.float32), w["scale"].astype(np.float32)
            model.novelty_ = NoveltyGate.from_arrays(w)
        model.ngram_ = HashBagClassifier.load(d / NGRAM_DIR) if model.ngram else None
        experts = config.get("experts", {})
        model.head_temperature_ = float(experts.get("head_temperature", 1.0))
        model.ngram_temperature_ = float(experts.get("ngram_temperature", 1.0))
        model.ngram_weight_ = float(experts.get("ngram_weight", 0.0))
        model.restore_metadata(config)
        model.encoder  # noqa: B018 - load the encoder now: a missing teacher install fails here, not per ticket
        return model


def load_model(directory: str | Path):
    """Either model kind from its directory (``config.json`` says which)."""
    from .model import HashBagClassifier

    if read_config(directory).get("kind") == KIND:
        return EncoderClassifier.load(directory)
    return HashBagClassifier.load(directory)
