"""Metrics against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from plugin import metrics


def test_confusion_per_class_and_macro_f1():
    gold = ["a", "a", "a", "b", "b", "c"]
    pred = ["a", "a", "b", "b", "c", "c"]
    labels = ["a", "b", "c"]
    cm = metrics.confusion_matrix(gold, pred, labels)
    assert cm.tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    stats = {s.label: s for s in metrics.per_class(cm, labels)}
    # a: p=2/2 r=2/3 ; b: p=1/2 r=1/2 ; c: p=1/2 r=1/1
    assert stats["a"].precision == 1.0 and stats["a"].recall == pytest.approx(2 / 3)
    assert stats["a"].f1 == pytest.approx(0.8)
    assert stats["b"].f1 == pytest.approx(0.5)
    assert stats["c"].f1 == pytest.approx(2 / 3)
    assert metrics.macro_f1(list(stats.values())) == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert metrics.accuracy(gold, pred) == pytest.approx(4 / 6)
    assert metrics.most_confused(cm, labels, 5) == [("a", "b", 1), ("b", "c", 1)]


def test_macro_f1_ignores_labels_never_in_gold():
    cm = metrics.confusion_matrix(["a", "a"], ["a", "x"], ["a", "x"])
    stats = metrics.per_class(cm, ["a", "x"])
    assert metrics.macro_f1(stats) == pytest.approx(2 * 1 * 0.5 / 1.5)


def test_coverage_curve():
    correct = [True, True, False, True]
    scores = [0.95, 0.8, 0.7, 0.4]
    pts = {p.threshold: p for p in metrics.coverage_curve(correct, scores, (0.0, 0.5, 0.75, 0.9, 0.99))}
    assert pts[0.0].coverage == 1.0 and pts[0.0].accuracy == 0.75
    assert pts[0.5].coverage == 0.75 and pts[0.5].accuracy == pytest.approx(2 / 3)
    assert pts[0.75].n == 2 and pts[0.75].accuracy == 1.0
    assert pts[0.99].n == 0 and pts[0.99].accuracy is None


def test_reliability_and_ece():
    # bin [0.9,1.0]: scores .9,1.0 both right -> conf .95 acc 1 ; bin [0.5,0.6): .5 .5, one right
    correct = [True, True, True, False]
    scores = [0.9, 1.0, 0.5, 0.5]
    bins, ece = metrics.reliability(correct, scores, n_bins=10)
    assert bins[9].n == 2 and bins[9].confidence == pytest.approx(0.95) and bins[9].accuracy == 1.0
    assert bins[5].n == 2 and bins[5].accuracy == 0.5
    assert bins[0].n == 0 and bins[0].accuracy is None
    assert ece == pytest.approx(0.5 * 0.05 + 0.5 * 0.0)


def test_mcnemar_exact_and_chi2():
    # b = 8 (A right, B wrong), c = 2 -> exact two-sided p = 2 * P(X<=2 | n=10, .5) = 2*56/1024
    a = [True] * 8 + [False] * 2 + [True] * 5
    b = [False] * 8 + [True] * 2 + [True] * 5
    r = metrics.mcnemar(a, b)
    assert (r.b, r.c) == (8, 2)
    assert r.p_exact == pytest.approx(2 * (1 + 10 + 45) / 1024)
    assert r.chi2 == pytest.approx((6 - 1) ** 2 / 10)
    assert r.p_chi2 == pytest.approx(0.1138, abs=1e-3)  # chi2(1) sf(2.5)
    same = metrics.mcnemar([True, False], [True, False])
    assert same.p_exact == 1.0 and same.b == same.c == 0
    with pytest.raises(ValueError):
        metrics.mcnemar([True], [True, False])


def test_percentiles_cost_psi():
    p = metrics.percentiles([10, 20, 30, 40, 50])
    assert p == {"p50": 30.0, "p95": pytest.approx(48.0)}
    assert metrics.cost(2000, 500, 0.15, 0.6) == pytest.approx(0.3 + 0.3)
    assert metrics.population_stability_index({"a": 50, "b": 50}, {"a": 5, "b": 5}) == pytest.approx(0.0)
    psi = metrics.population_stability_index({"a": 0.5, "b": 0.5}, {"a": 0.9, "b": 0.1})
    expected = (0.9 - 0.5) * math.log(0.9 / 0.5) + (0.1 - 0.5) * math.log(0.1 / 0.5)
    assert psi == pytest.approx(expected)
    assert psi > 0.25


def test_pick_thresholds_reaches_target_precision():
    scores = [0.99, 0.97, 0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4]
    correct = [True, True, True, True, False, True, False, True, False, False]
    auto, sug = metrics.pick_thresholds(correct, scores, 0.95)
    assert auto == 0.9  # top 4 all right; adding 0.85 drops precision to 0.8
    # target for suggest = 0.725: at 0.6 -> 6/8 = .75 ok; at 0.5 -> 6/9 = .667 no
    assert sug == 0.6
    c = np.array(correct)[np.array(scores) >= auto]
    assert c.mean() >= 0.95
    assert metrics.pick_thresholds([False, False], [0.9, 0.8], 0.95) == (None, None)
