"""Is a ticket like the ones the model learnt from? A gate that sends out-of-scope tickets to review.

A softmax spreads its mass over the classes it knows, so a ticket about something no category
covers often gets a confident wrong label: on BANKING77-OOS the server tier's max-probability tells
in-scope from out-of-scope questions with an AUROC of only 0.844. The distance to the nearest class
in the encoder's space sees what the probabilities miss (Lee et al. 2018, "A Simple Unified
Framework for Detecting Out-of-Distribution Samples"; Podolskiy et al. 2021 for text encoders): the
Mahalanobis distance to the nearest class mean under one shared covariance. The gate adds the two
signals, each standardised on held-out in-scope rows, and rejects what scores below the
``reject_fraction`` quantile of those rows. Setting it needs no out-of-scope examples, and it costs
about that share of in-scope tickets by construction (bench/bench_teacher.py: AUROC 0.844 -> 0.896;
with a catch-all class that has examples 0.955 -> 0.961).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .discriminant import class_means, shrunk_covariance

MIN_HELD_OUT = 50  # fewer held-out rows than this cannot place a 1 % quantile: no gate
ARRAY_NAMES = ("novelty_means", "novelty_precision", "novelty_reference", "novelty_columns")


@dataclass(frozen=True)
class NoveltyGate:
    """Class means and the shared precision matrix of the training rows, the held-out reference
    (mean and spread of both signals), the score below which a ticket is unfamiliar, and the
    probability columns of the in-scope classes (all but a catch-all such as ``other``: a ticket
    like the catch-all's examples is not one the taxonomy routes)."""

    means: np.ndarray  # [k, d]
    precision: np.ndarray  # [d, d]
    reference: np.ndarray  # [distance mean, distance std, log-confidence mean, log-confidence std, threshold]
    columns: np.ndarray  # int indices into the model's classes
    # precision @ mean of each class and its quadratic term, computed once: per ticket only x's terms remain
    _projected_means: np.ndarray = field(init=False, repr=False, compare=False)
    _mean_terms: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        projected = self.means @ self.precision
        object.__setattr__(self, "_projected_means", projected)
        object.__setattr__(self, "_mean_terms", (projected * self.means).sum(axis=1))

    @classmethod
    def fit(cls, x: np.ndarray, labels: np.ndarray, held_out_x: np.ndarray, held_out_proba: np.ndarray,
            reject_fraction: float, columns: np.ndarray) -> "NoveltyGate":
        """``x``/``labels``: in-scope training representations and their class indices;
        ``held_out_*``: in-scope rows the model did not train on, with its calibrated probabilities
        for them; ``columns``: the in-scope classes."""
        x = np.asarray(x, np.float64)
        columns = np.asarray(columns, np.int64)
        labels = np.asarray(labels, np.int64)
        means, resid = class_means(x, np.eye(labels.max() + 1)[labels])
        means, precision = means.astype(np.float32), np.linalg.inv(shrunk_covariance(resid)).astype(np.float32)
        closeness, confidence = cls(means, precision, np.zeros(5), columns).signals(held_out_x, held_out_proba)
        spread = np.array([closeness.mean(), max(closeness.std(), 1e-9), confidence.mean(),
                           max(confidence.std(), 1e-9)])
        threshold = np.quantile(_standardised_sum(closeness, confidence, spread), reject_fraction)
        return cls(means, precision, np.append(spread, threshold), columns)

    def signals(self, x: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Minus the squared Mahalanobis distance to the nearest class mean, and the log of the
        highest in-scope probability."""
        x = np.asarray(x, np.float32)
        dist = ((x @ self.precision * x).sum(axis=1)[:, None] - 2 * x @ self._projected_means.T
                + self._mean_terms[None, :])
        top = np.asarray(proba)[:, self.columns].max(axis=1)
        return -dist.min(axis=1).astype(np.float64), np.log(np.maximum(top, 1e-12))

    def scores(self, x: np.ndarray, proba: np.ndarray) -> np.ndarray:
        """Familiarity: higher is more like the training tickets (0 is a typical held-out row)."""
        return _standardised_sum(*self.signals(x, proba), self.reference)

    @property
    def threshold(self) -> float:
        return float(self.reference[4])

    def familiar(self, x: np.ndarray, proba: np.ndarray) -> np.ndarray:
        """True where a ticket scores at or above the threshold."""
        return self.scores(x, proba) >= self.threshold

    def to_arrays(self) -> dict[str, np.ndarray]:
        return dict(zip(ARRAY_NAMES, (self.means, self.precision, self.reference, self.columns)))

    @classmethod
    def from_arrays(cls, arrays) -> "NoveltyGate | None":
        """The gate saved in a weights file, or None for a model saved without one."""
        if ARRAY_NAMES[0] not in arrays:
            return None
        means, precision, reference, columns = (np.asarray(arrays[name]) for name in ARRAY_NAMES)
        return cls(means.astype(np.float32), precision.astype(np.float32), reference.astype(np.float64),
                   columns.astype(np.int64))


def _standardised_sum(closeness: np.ndarray, confidence: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Both signals in held-out standard deviations, added: neither is weighted by a fit, because
    in-scope rows alone cannot say which one finds out-of-scope tickets better."""
    return (closeness - reference[0]) / reference[1] + (confidence - reference[2]) / reference[3]
