"""Evaluation arithmetic: pure functions over labels, scores and counts (numpy only).

Kept apart from I/O so every number in a report can be checked against a hand-computed case.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np

DEFAULT_THRESHOLDS = tuple(round(x, 2) for x in np.arange(0.0, 1.0001, 0.05))


@dataclass(frozen=True)
class ClassStats:
    label: str
    precision: float
    recall: float
    f1: float
    support: int  # gold examples of this label
    predicted: int  # predictions of this label


@dataclass(frozen=True)
class CoveragePoint:
    """At ``threshold``: the share of items with score >= threshold, and their accuracy."""

    threshold: float
    coverage: float
    accuracy: float | None  # None when nothing is covered
    n: int


@dataclass(frozen=True)
class ReliabilityBin:
    lo: float
    hi: float
    n: int
    confidence: float | None  # mean score in the bin
    accuracy: float | None


@dataclass(frozen=True)
class McNemar:
    """Paired test on the same items: ``b`` = A right & B wrong, ``c`` = A wrong & B right."""

    b: int
    c: int
    p_exact: float  # two-sided exact binomial p-value
    chi2: float  # continuity-corrected statistic
    p_chi2: float


def confusion_matrix(y_true: list[str], y_pred: list[str], labels: list[str]) -> np.ndarray:
    """Counts with rows = gold label, columns = predicted label, in ``labels`` order.

    Labels not in ``labels`` are ignored (pass the union of gold and predicted to keep all).
    """
    index = {lb: i for i, lb in enumerate(labels)}
    cm = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        if t in index and p in index:
            cm[index[t], index[p]] += 1
    return cm


def accuracy(y_true: list[str], y_pred: list[str]) -> float:
    if not y_true:
        return 0.0
    return float(np.mean([t == p for t, p in zip(y_true, y_pred, strict=True)]))


def per_class(cm: np.ndarray, labels: list[str]) -> list[ClassStats]:
    """Precision, recall and F1 per label from a confusion matrix (0 where undefined)."""
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    out = []
    for i, lb in enumerate(labels):
        p = tp[i] / predicted[i] if predicted[i] else 0.0
        r = tp[i] / support[i] if support[i] else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        out.append(ClassStats(lb, float(p), float(r), float(f), int(support[i]), int(predicted[i])))
    return out


def macro_f1(stats: list[ClassStats]) -> float:
    """Mean F1 over labels that occur in the gold data (labels only ever predicted are excluded,
    as scikit-learn does when ``labels`` is the gold set)."""
    present = [s.f1 for s in stats if s.support > 0]
    return float(np.mean(present)) if present else 0.0


def most_confused(cm: np.ndarray, labels: list[str], k: int = 10) -> list[tuple[str, str, int]]:
    """The ``k`` largest off-diagonal cells as (gold, predicted, count), largest first."""
    off = cm.copy()
    np.fill_diagonal(off, 0)
    flat = [(int(off[i, j]), labels[i], labels[j]) for i, j in zip(*np.nonzero(off))]
    flat.sort(key=lambda x: (-x[0], x[1], x[2]))
    return [(t, p, n) for n, t, p in flat[:k]]


def coverage_curve(correct: list[bool], scores: list[float],
                   thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS) -> list[CoveragePoint]:
    """What share would be applied at each threshold, and how often it would be right."""
    c = np.asarray(correct, dtype=bool)
    s = np.asarray(scores, dtype=float)
    out = []
    for t in thresholds:
        mask = s >= t
        n = int(mask.sum())
        acc = float(c[mask].mean()) if n else None
        out.append(CoveragePoint(float(t), n / len(s) if len(s) else 0.0, acc, n))
    return out


def reliability(correct: list[bool], scores: list[float], n_bins: int = 10) -> tuple[list[ReliabilityBin], float]:
    """Equal-width reliability bins and the expected calibration error (ECE).

    ECE = sum over bins of (bin share) * |accuracy - mean confidence|. A score of exactly 1.0
    falls in the last bin.
    """
    c = np.asarray(correct, dtype=float)
    s = np.clip(np.asarray(scores, dtype=float), 0.0, 1.0)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.minimum((s * n_bins).astype(int), n_bins - 1) if len(s) else np.array([], dtype=int)
    bins = []
    ece = 0.0
    for b in range(n_bins):
        mask = idx == b
        n = int(mask.sum())
        if n:
            conf, acc = float(s[mask].mean()), float(c[mask].mean())
            ece += n / len(s) * abs(acc - conf)
            bins.append(ReliabilityBin(float(edges[b]), float(edges[b + 1]), n, conf, acc))
        else:
            bins.append(ReliabilityBin(float(edges[b]), float(edges[b + 1]), 0, None, None))
    return bins, float(ece)


def mcnemar(correct_a: list[bool], correct_b: list[bool]) -> McNemar:
    """McNemar's paired test: did A and B differ in accuracy on the same items by more than chance?

    Only discordant pairs count. The exact p-value is the two-sided binomial test of ``b`` in
    ``b + c`` trials at 0.5 (right for small counts); the chi-square one uses Edwards' continuity
    correction with one degree of freedom.
    """
    a = np.asarray(correct_a, dtype=bool)
    b_arr = np.asarray(correct_b, dtype=bool)
    if a.shape != b_arr.shape:
        raise ValueError("both runs must cover the same items")
    b = int((a & ~b_arr).sum())
    c = int((~a & b_arr).sum())
    n = b + c
    if n == 0:
        return McNemar(b, c, 1.0, 0.0, 1.0)
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2.0 ** n
    p_exact = min(1.0, 2.0 * tail)
    chi2 = (abs(b - c) - 1) ** 2 / n
    p_chi2 = math.erfc(math.sqrt(chi2 / 2.0))  # survival function of chi2 with 1 dof
    return McNemar(b, c, float(p_exact), float(chi2), float(p_chi2))


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion (95 % for ``z=1.96``); ``(0, 1)`` for no trials.

    Used for agreement and precision on the few tickets agents label in a shadow week: unlike the
    normal approximation it stays inside [0, 1] and is honest at 0 or n successes.
    """
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (0-100, linear interpolation; 0.0 for no values).

    The one definition every report and benchmark uses, so their p50/p99 figures are comparable.
    """
    arr = np.asarray(list(values), dtype=float)
    return float(np.percentile(arr, q)) if arr.size else 0.0


def percentiles(values: Iterable[float], qs: tuple[float, ...] = (50, 95)) -> dict[str, float]:
    """Several :func:`percentile` values at once, keyed ``p50``, ``p95``, ``p99.9``..."""
    data = list(values)
    return {f"p{q:g}": percentile(data, q) for q in qs}


def cost(prompt_tokens: int, completion_tokens: int, price_prompt_per_1k: float,
         price_completion_per_1k: float) -> float:
    """Spend in the price table's currency."""
    return prompt_tokens / 1000.0 * price_prompt_per_1k + completion_tokens / 1000.0 * price_completion_per_1k


def population_stability_index(expected: dict[str, float], actual: dict[str, float],
                               eps: float = 1e-4) -> float:
    """PSI between two label distributions (counts or shares; each is normalised).

    Rule of thumb: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 significant shift. Empty cells
    get ``eps`` so a label that appears or disappears counts without dividing by zero.
    """
    labels = sorted(set(expected) | set(actual))
    e = np.array([max(float(expected.get(lb, 0.0)), 0.0) for lb in labels])
    a = np.array([max(float(actual.get(lb, 0.0)), 0.0) for lb in labels])
    if e.sum() == 0 or a.sum() == 0:
        return 0.0
    e = np.maximum(e / e.sum(), eps)
    a = np.maximum(a / a.sum(), eps)
    return float(np.sum((a - e) * np.log(a / e)))


def pick_thresholds(correct: list[bool], scores: list[float], target_precision: float,
                    suggest_precision: float | None = None, min_coverage_n: int = 1) -> tuple[float | None, float | None]:
    """Lowest thresholds whose applied items reach a target precision.

    ``auto_apply`` is the smallest score t such that items with score >= t are right at least
    ``target_precision`` of the time (on at least ``min_coverage_n`` items), so as many as possible
    are applied at the promised precision. ``suggest`` does the same for ``suggest_precision``
    (default: half-way between chance 0.5 and the target), capped at ``auto_apply``.

    Returns:
        (auto_apply, suggest); a value is None when no threshold reaches its target.
    """
    s = np.asarray(scores, dtype=float)
    c = np.asarray(correct, dtype=bool)
    order = np.argsort(-s, kind="stable")
    s_sorted, c_sorted = s[order], c[order]
    cum_right = np.cumsum(c_sorted)
    n = np.arange(1, len(s_sorted) + 1)
    prec = cum_right / n if len(n) else np.array([])

    def lowest(target: float) -> float | None:
        best = None
        for i in range(len(s_sorted)):
            # a threshold at s_sorted[i] covers every item with an equal score, so evaluate at
            # the last index of each run of ties
            if i + 1 < len(s_sorted) and s_sorted[i + 1] == s_sorted[i]:
                continue
            if n[i] >= min_coverage_n and prec[i] >= target:
                best = float(s_sorted[i])
        return best

    auto = lowest(target_precision)
    sp = suggest_precision if suggest_precision is not None else (0.5 + target_precision) / 2
    sug = lowest(sp)
    if auto is not None and sug is not None:
        sug = min(sug, auto)
    return auto, sug


def as_dict(obj: object) -> dict:
    """Dataclass -> dict for JSON output."""
    return asdict(obj)  # type: ignore[arg-type]
