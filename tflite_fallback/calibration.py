"""Temperature scaling: one scalar that makes the fallback's softmax mean what it says.

Guo et al. 2017 ("On Calibration of Modern Neural Networks") showed a single temperature fitted on
held-out data fixes most over-confidence without changing the arg-max, which is exactly what the
0.6 / 0.85 decision thresholds need.
"""

from __future__ import annotations

import math

import numpy as np

T_MIN, T_MAX = 0.25, 20.0  # a perfectly separated held-out set would push T to 0; keep it sane


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, numerically stable."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax, numerically stable."""
    z = logits - logits.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def nll(logits: np.ndarray, targets: np.ndarray, temperature: float) -> float:
    """Mean cross-entropy of ``softmax(logits / T)`` against target distributions."""
    return float(-(targets * log_softmax(logits / temperature)).sum(axis=1).mean())


def fit_temperature(logits: np.ndarray, targets: np.ndarray, iters: int = 60) -> float:
    """Golden-section search of log T minimising held-out NLL (the loss is unimodal in log T)."""
    if len(logits) == 0:
        return 1.0
    lo, hi = math.log(T_MIN), math.log(T_MAX)
    g = (math.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = nll(logits, targets, math.exp(a)), nll(logits, targets, math.exp(b))
    for _ in range(iters):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = nll(logits, targets, math.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = nll(logits, targets, math.exp(b))
    return float(math.exp((lo + hi) / 2))


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE: the gap between confidence and accuracy, averaged over equal-width confidence bins."""
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            ece += sel.mean() * abs(conf[sel].mean() - correct[sel].mean())
    return float(ece)


def calibrate_held_out(logits: np.ndarray, targets: np.ndarray) -> tuple[float, dict]:
    """Fit the temperature on held-out rows and report them: ``(T, {"rows", "accuracy", "ece"})``."""
    temperature = fit_temperature(logits, targets)
    probs = softmax(logits / temperature)
    y = targets.argmax(axis=1)
    return temperature, {"rows": int(len(logits)), "accuracy": round(float((probs.argmax(1) == y).mean()), 4),
                         "ece": round(expected_calibration_error(probs, y), 4)}
