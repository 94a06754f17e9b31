"""Prometheus metrics, one registry per app so several apps (tests) never collide."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.webhooks = Counter("triage_webhooks_total", "Webhook requests by vendor and outcome",
                                ["vendor", "outcome"], registry=self.registry)
        self.accept_seconds = Histogram("triage_webhook_accept_seconds", "Time to verify, store, enqueue",
                                        ["vendor"], registry=self.registry,
                                        buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, 1))
        self.jobs = Counter("triage_jobs_total", "Finished jobs by vendor and final state",
                            ["vendor", "state"], registry=self.registry)
        self._children: dict[tuple[str, ...], object] = {}
        self.store_collectors = False  # the store's gauges, registered by the first scrape (ops)

    def webhook_outcome(self, vendor: str, outcome: str):
        """``webhooks.labels(vendor, outcome)``, cached: the accept path counts every request."""
        key = ("w", vendor, outcome)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.webhooks.labels(vendor, outcome)
        return child

    def accept_timer(self, vendor: str):
        """``accept_seconds.labels(vendor)``, cached."""
        key = ("a", vendor)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.accept_seconds.labels(vendor)
        return child
