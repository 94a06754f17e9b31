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
