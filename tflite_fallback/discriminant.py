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


def class_means(x: np.ndarray, memberships: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The means of the classes that have rows ``[k', d]``, in column order, and every row minus
    its class mean. ``memberships`` ``[n, k]`` weighs each row into each class (one-hot labels or
    probability rows; a row's weights are normalised to sum to 1)."""
    x = np.asarray(x, np.float64)
    share = np.asarray(memberships, np.float64)
    share = share / np.maximum(share.sum(axis=1, keepdims=True), 1e-12)
    mass = share.sum(axis=0)
    present = mass > 0
    means = (share[:, present].T @ x) / mass[present, None]
    return means, x - share[:, present] @ means


def discriminant_axes(x: np.ndarray, memberships: np.ndarray, width: int) -> np.ndarray:
    """``[d, <= width]``: the whitened directions along which the class means of ``x`` lie furthest
    apart, strongest first (memberships as in :func:`class_means`). Directions the class means do
    not span (beyond ``k - 1``) are left out, so the result can be narrower than ``width``."""
    x = np.asarray(x, np.float64)
    means, residuals = class_means(x, memberships)
    if len(means) < 2:  # one class separates nothing
        return np.zeros((x.shape[1], 0))
    variances, vectors = np.linalg.eigh(shrunk_covariance(residuals))
    whiten = vectors / np.sqrt(variances)
    _, strength, axes = np.linalg.svd((means - x.mean(axis=0)) @ whiten, full_matrices=False)
    kept = strength > 1e-6 * strength[0]
    return whiten @ axes[kept][:width].T
