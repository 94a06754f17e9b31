"""Class geometry of sentence embeddings: one shared within-class covariance, and the axes that
separate the classes under it (Fisher's linear discriminant).

Two users: the novelty gate measures distances to the class means under the covariance, and
embedding matching teaches the student where each text lies on the discriminant axes.
"""

from __future__ import annotations

import numpy as np

SHRINKAGE = 0.2  # covariance shrunk this far towards its mean variance: 384 dims from a few 1,000 rows


def shrunk_covariance(residuals: np.ndarray) -> np.ndarray:
    """Covariance of ``residuals`` (rows minus their class mean), shrunk towards its mean variance
    so that it stays invertible and stable with fewer rows than a full estimate needs."""
    residuals = np.asarray(residuals, np.float64)
    cov = residuals.T @ residuals / len(residuals)
    return (1 - SHRINKAGE) * cov + SHRINKAGE * np.trace(cov) / len(cov) * np.eye(len(cov))


def discriminant_axes(x: np.ndarray, memberships: np.ndarray, width: int) -> np.ndarray:
    """``[d, <= width]``: the whitened directions along which the class means of ``x`` lie furthest
    apart, strongest first. ``memberships`` ``[n, k]`` weighs each row into each class (one-hot
    labels or probability rows). Directions the class means do not span (beyond ``k - 1``) are
    left out, so the result can be narrower than ``width``."""
    x = np.asarray(x, np.float64)
    share = np.asarray(memberships, np.float64)
    share = share / np.maximum(share.sum(axis=1, keepdims=True), 1e-12)
    mass = share.sum(axis=0)
    means = (share.T @ x)[mass > 0] / mass[mass > 0, None]
    centre = mass[mass > 0] @ means / mass.sum()
    variances, vectors = np.linalg.eigh(shrunk_covariance(x - share[:, mass > 0] @ means))
    whiten = vectors / np.sqrt(variances)
    _, strength, axes = np.linalg.svd((means - centre) @ whiten, full_matrices=False)
    kept = strength > 1e-6 * max(strength.max(initial=0.0), 1e-300)  # one class: no axis at all
    return whiten @ axes[kept][:width].T
