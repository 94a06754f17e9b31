"""``/healthz`` (store reachable) and ``/metrics`` (Prometheus text format)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily

from plugin.monitoring import QualityCollector

from .runtime import get_store, metrics, settings

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    try:
        counts = get_store().counts_by_state()
    except Exception as exc:  # health must answer, not raise
        return jsonify(status="error", error=type(exc).__name__), 503
    return jsonify(status="ok", events=counts)


class _StoreCollector:
    def __init__(self, store) -> None:
        self.store = store

    def collect(self):
        gauge = GaugeMetricFamily("triage_events", "Stored events by state", labels=["state"])
        for state, n in sorted(self.store.counts_by_state().items()):
            gauge.add_metric([state], n)
        yield gauge


@bp.get("/metrics")
def prometheus():
    m = metrics()
    if not getattr(m, "_store_collector", None):
        m._store_collector = _StoreCollector(get_store())
        m.registry.register(m._store_collector)
        m.registry.register(QualityCollector(settings(), get_store()))  # other/review rates, drift
    return Response(generate_latest(m.registry), mimetype=CONTENT_TYPE_LATEST)
