"""Is the classifier getting worse? Rolling rates and label drift from the event store. Pure-ish.

Computed from stored outcomes over a time window: the "other" rate, the needs-review rate, the
correction rate, and the population stability index (PSI) of the label distribution against the
distribution the active model was trained on (``label_distribution.json`` beside the model,
written by ``triage retrain``). Thresholds for warnings are module constants with the usual
rules of thumb; ``triage report`` prints them and ``/metrics`` exports the same numbers.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .metrics import population_stability_index
from .store import Event, EventStore
from .taxonomy_lint import OTHER_AUDIT  # above it the taxonomy needs an audit (`triage taxonomy audit`)

DISTRIBUTION_FILE = "label_distribution.json"
OTHER_RATE_WARN = 0.15  # the taxonomy rule: above this, "other" is swallowing a real topic
NEEDS_REVIEW_WARN = 0.30
PSI_WARN = 0.25  # > 0.25: significant shift of the label mix
CORRECTION_RATE_WARN = 0.10
MIN_EVENTS = 20  # fewer classified tickets than this: too few to warn on
_SINCE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_S = {"": 86400, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass
class WindowStats:
    since: float
    n: int = 0
    other_rate: float = 0.0
    needs_review_rate: float = 0.0
    correction_rate: float = 0.0
    corrections: int = 0
    psi: float | None = None
    labels: dict[str, int] = field(default_factory=dict)
    classifiers: dict[str, int] = field(default_factory=dict)
    model_versions: dict[str, int] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    warnings: list[str] = field(default_factory=list)


def parse_since(text: str) -> float:
    """``7d`` / ``24h`` / ``30m`` / ``2w`` / ``90s`` -> seconds (a bare number means days)."""
    m = _SINCE.match(text or "")
    if not m:
        raise ValueError(f"cannot read duration {text!r}; use e.g. 7d, 24h, 30m")
    return float(m.group(1)) * _UNIT_S[m.group(2)]


def load_distribution(model_dir: str | Path) -> dict[str, float] | None:
    """The training label distribution stored with a model, if any."""
    from .fallback import model_path

    path = model_path(model_dir) / DISTRIBUTION_FILE
    if not path.exists():
        return None
    return {str(k): float(v) for k, v in json.loads(path.read_text("utf-8")).items()}


def window_stats(store: EventStore, *, since_s: float, other: str = "other",
                 training: dict[str, float] | None = None, corrections: int = 0,
                 now: float | None = None) -> WindowStats:
    """Rates over the classified events of the last ``since_s`` seconds, with warnings."""
    start = (time.time() if now is None else now) - since_s
    stats = WindowStats(since=start, corrections=corrections)
    labels: Counter[str] = Counter()
    review = 0
    classifiers: Counter[str] = Counter()
    versions: Counter[str] = Counter()
    for ev in store.events(since=start):
        if ev.label is None:
            continue
        labels[ev.label] += 1
        review += ev.decision == "needs_review"
        classifiers[ev.classifier or "?"] += 1
        versions[ev.model_version or "?"] += 1
        stats.prompt_tokens += ev.prompt_tokens
        stats.completion_tokens += ev.completion_tokens
    n = sum(labels.values())
    stats.n, stats.labels = n, dict(labels)
    stats.classifiers, stats.model_versions = dict(classifiers), dict(versions)
    if n:
        stats.other_rate = labels.get(other, 0) / n
        stats.needs_review_rate = review / n
        stats.correction_rate = corrections / n
        if training:
            stats.psi = population_stability_index(training, dict(labels))
    stats.warnings = warnings_for(stats)
    return stats


def warnings_for(s: WindowStats) -> list[str]:
    """Human-readable warnings for crossed thresholds (none on too few events)."""
    if s.n < MIN_EVENTS:
        return []
    out = []
    if s.other_rate > OTHER_RATE_WARN:
        out.append(f'"other" rate {s.other_rate:.1%} > {OTHER_RATE_WARN:.0%}: a topic is missing from the '
                   "taxonomy (run `triage taxonomy lint`)")
    if s.needs_review_rate > NEEDS_REVIEW_WARN:
        out.append(f"needs-review rate {s.needs_review_rate:.1%} > {NEEDS_REVIEW_WARN:.0%}: the classifier is "
                   "unsure on many tickets (check thresholds with `triage calibrate`)")
    if s.psi is not None and s.psi > PSI_WARN:
        out.append(f"label drift: PSI {s.psi:.3f} > {PSI_WARN} against the training distribution "
                   "(retrain on recent corrections: `triage retrain`)")
    if s.correction_rate > CORRECTION_RATE_WARN:
        out.append(f"agents corrected {s.correction_rate:.1%} of tickets (> {CORRECTION_RATE_WARN:.0%})")
    return out


class QualityCollector:
    """Prometheus collector: the window's quality gauges, computed from the store at scrape time.

    Scrapes must never fail the endpoint, so errors yield no samples (and are logged).
    """

    def __init__(self, settings, store: EventStore) -> None:
        self.settings = settings
        self.store = store

    def stats(self) -> WindowStats:
        from .corrections import CorrectionStore
        from .registry import active_model_dir
        from .taxonomy import load_taxonomy

        since = self.settings.monitor_window_s
        n_corr = len(CorrectionStore(self.settings.database).list(since=time.time() - since))
        return window_stats(self.store, since_s=since, other=load_taxonomy(self.settings.taxonomy).other,
                            training=load_distribution(active_model_dir(self.settings)), corrections=n_corr)

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        try:
            s = self.stats()
        except Exception:  # noqa: BLE001 - documented: a scrape must not fail
            import logging

            logging.getLogger(__name__).exception("quality gauges unavailable")
            return
        window = f"{self.settings.monitor_window_s:g}s"
        for name, doc, value in (
                ("triage_window_classified", "Classified tickets in the monitoring window", s.n),
                ("triage_other_rate", 'Share of tickets labelled "other" in the window', s.other_rate),
                ("triage_needs_review_rate", "Share of tickets sent to review in the window", s.needs_review_rate),
                ("triage_correction_rate", "Agents' corrections per classified ticket in the window",
                 s.correction_rate),
                ("triage_label_psi", "Population stability index of labels vs the training distribution "
                 "(-1: no training distribution)", -1.0 if s.psi is None else s.psi),
                ("triage_quality_warnings", "Quality thresholds crossed in the window", len(s.warnings))):
            g = GaugeMetricFamily(name, doc, labels=["window"])
            g.add_metric([window], float(value))
            yield g
        # the rules' thresholds and whether each is crossed, so alerting rules need no copied numbers
        limits = GaugeMetricFamily("triage_quality_threshold", "Warning threshold of each quality rule",
                                   labels=["rule"])
        alarms = GaugeMetricFamily("triage_quality_alarm", "1 when the rule's threshold is crossed in the window "
                                   f"(never below {MIN_EVENTS} classified tickets)", labels=["rule", "window"])
        crossed = s.n >= MIN_EVENTS
        for rule, limit, value in (("other_rate", OTHER_RATE_WARN, s.other_rate),
                                   ("other_rate_audit", OTHER_AUDIT, s.other_rate),
                                   ("needs_review_rate", NEEDS_REVIEW_WARN, s.needs_review_rate),
                                   ("label_psi", PSI_WARN, -1.0 if s.psi is None else s.psi),
                                   ("correction_rate", CORRECTION_RATE_WARN, s.correction_rate)):
            limits.add_metric([rule], limit)
            alarms.add_metric([rule, window], float(crossed and value > limit))
        yield limits
        yield alarms


def timeline(events: Iterable[Event], *, start: float, end: float, buckets: int, other: str = "other") -> list[dict]:
    """Classified tickets per time bucket: volume, each decision, and the "other" count (dashboard)."""
    width = max((end - start) / buckets, 1e-9)
    rows = [{"start": start + i * width, "n": 0, "auto_apply": 0, "suggest": 0, "needs_review": 0, "other": 0}
            for i in range(buckets)]
    for ev in events:
        if ev.label is None or not start <= ev.created_at < end:
            continue
        row = rows[min(int((ev.created_at - start) / width), buckets - 1)]
        row["n"] += 1
        if ev.decision in ("auto_apply", "suggest", "needs_review"):
            row[ev.decision] += 1
        row["other"] += ev.label == other
    return rows


def score_histogram(events: Iterable[Event], bins: int = 10) -> list[int]:
    """Classified tickets per score bin of width ``1/bins`` (the last bin includes 1.0)."""
    counts = [0] * bins
    for ev in events:
        if ev.label is not None and ev.score is not None:
            counts[min(int(ev.score * bins), bins - 1)] += 1
    return counts
