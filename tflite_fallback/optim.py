"""The one training schedule both fallback tiers use: shuffled mini-batches, linearly decayed Adam.

Pure numpy and seeded, so training is deterministic; the update is returned as a step rather than
applied, so the same arithmetic serves dense weights and the student's sparse (touched-rows-only)
embedding updates.
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np

BETA1, BETA2, EPS = 0.9, 0.999, 1e-8


def minibatches(n: int, batch_size: int, epochs: int, rng: np.random.Generator
                ) -> Iterator[tuple[int, int, np.ndarray]]:
    """``(step, total_steps, row indices)``, a fresh permutation per epoch; step counts from 1."""
    steps_per_epoch = max(1, math.ceil(n / batch_size))
    total = steps_per_epoch * epochs
    step = 0
    for _ in range(epochs):
        perm = rng.permutation(n)
        for s in range(steps_per_epoch):
            step += 1
            yield step, total, perm[s * batch_size:(s + 1) * batch_size]


def decayed_lr(base: float, step: int, total: int) -> float:
    """Learning rate decaying linearly from ``base`` to 10 % of it over the run."""
    return base * (1.0 - 0.9 * (step - 1) / max(1, total - 1))


def adam_step(grad: np.ndarray, m: np.ndarray, v: np.ndarray, step: int, lr: float
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Adam (Kingma & Ba 2015): the new moments and the step to *subtract* from the parameter."""
    m = BETA1 * m + (1 - BETA1) * grad
    v = BETA2 * v + (1 - BETA2) * grad * grad
    delta = lr * (m / (1 - BETA1 ** step)) / (np.sqrt(v / (1 - BETA2 ** step)) + EPS)
    return m, v, delta
