"""Every benchmark reports percentiles through ``plugin.metrics.percentile``, so a p50 or p99
from one bench means the same as from another (no private nearest-rank or median helpers)."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from plugin import metrics

BENCH = Path(__file__).resolve().parents[2] / "bench"
OWN_PERCENTILE = {("np", "percentile"), ("np", "quantile"), ("numpy", "percentile"), ("statistics", "quantiles")}


def _bench_files() -> list[Path]:
    return sorted(p for p in BENCH.glob("bench_*.py"))


@pytest.mark.parametrize("path", _bench_files(), ids=lambda p: p.name)
def test_bench_uses_the_shared_percentile(path: Path):
    tree = ast.parse(path.read_text("utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            assert not any(w in node.name.lower() for w in ("pct", "percentile", "quantile")), \
                f"{path.name}:{node.lineno} defines its own percentile helper {node.name}()"
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            assert (node.value.id, node.attr) not in OWN_PERCENTILE, f"{path.name}:{node.lineno} computes its own"
    text = path.read_text("utf-8")
    if any(f"p{q}" in text for q in (50, 90, 95, 99)) and "latency_ms" not in text:
        assert "from plugin.metrics import percentile" in text, f"{path.name} prints percentiles"


def test_percentile_is_linear_interpolation_and_percentiles_agrees():
    values = [5.0, 1.0, 3.0, 2.0, 4.0]
    assert metrics.percentile(values, 50) == 3.0 and metrics.percentile([], 99) == 0.0
    assert metrics.percentile(values, 90) == pytest.approx(float(np.percentile(values, 90)))
    assert metrics.percentiles(values, (50, 99, 99.9)) == {
        "p50": 3.0, "p99": metrics.percentile(values, 99), "p99.9": metrics.percentile(values, 99.9)}
    assert metrics.percentiles(iter(values)) == {"p50": 3.0, "p95": metrics.percentile(values, 95)}
