"""``/healthz`` (store reachable) and ``/metrics`` (Prometheus text format)."""

from __future__ import annotations

import threading

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


_REGISTER_LOCK = threading.Lock()


def _registry():
    """The app's registry with the store gauges registered exactly once.

    Registered on the first scrape (the store opens lazily), under a lock: two concurrent first
    scrapes used to register the same collector twice, and the second raised (a 500)."""
    m = metrics()
    if not m.store_collectors:
        with _REGISTER_LOCK:
            if not m.store_collectors:
                store = get_store()
                m.registry.register(_StoreCollector(store))
                m.registry.register(QualityCollector(settings(), store))  # other/review rates, drift
                m.store_collectors = True
    return m.registry


@bp.get("/metrics")
def prometheus():
    return Response(generate_latest(_registry()), mimetype=CONTENT_TYPE_LATEST)
