"""Fisher's discriminant axes: the direction that separates classes, not the one that varies most."""

from __future__ import annotations

import numpy as np

from tflite_fallback.discriminant import discriminant_axes, shrunk_covariance


def test_the_first_axis_separates_the_classes_where_the_largest_variance_does_not() -> None:
    rng = np.random.default_rng(0)
    n = 400
    labels = np.arange(n) % 3
    x = rng.normal(0, 0.1, (n, 5))
    x[:, 0] += rng.normal(0, 3.0, n)  # large spread unrelated to the class: PCA's first axis
    x[:, 1] += labels * 0.5  # the classes differ along this small direction only
    onehot = np.eye(3)[labels]
    axes = discriminant_axes(x, onehot, width=4)
    assert axes.shape == (5, 2)  # three class means span two directions, whatever width allows
    first = axes[:, 0] / np.linalg.norm(axes[:, 0])
    assert abs(first[1]) > 0.99 and abs(first[0]) < 0.05
    top_pc = np.linalg.svd(x - x.mean(0), full_matrices=False)[2][0]
    assert abs(top_pc[0]) > 0.99  # the axis plain PCA would have matched
    projected = x @ axes[:, 0]
    class_means = [projected[labels == k].mean() for k in range(3)]
    assert np.all(np.abs(np.diff(class_means)) > 3 * projected[labels == 0].std())
    # probability rows weigh rows into classes: a sharp row is its label, a flat row moves no mean
    soft = 0.9 * onehot + 0.1 / 3
    soft_first = discriminant_axes(x, soft, width=1)[:, 0]
    assert abs(soft_first @ first) / np.linalg.norm(soft_first) > 0.99
    assert discriminant_axes(x, np.ones((n, 1)), width=4).shape == (5, 0)  # one class separates nothing


def test_shrunk_covariance_is_invertible_with_fewer_rows_than_dimensions() -> None:
    resid = np.random.default_rng(1).normal(size=(5, 20))
    cov = shrunk_covariance(resid)
    assert np.linalg.matrix_rank(resid.T @ resid) < 20 and np.linalg.matrix_rank(cov) == 20
    assert np.isclose(np.trace(cov), np.trace(resid.T @ resid / 5))
