"""Rolling other-rate, needs-review rate and label drift: store -> report and /metrics."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from plugin.cli import main
from plugin.config import load_settings
from plugin.corrections import CorrectionStore
from plugin.monitoring import parse_since, window_stats
from plugin.store import EventState, EventStore
from webhooks import create_app


def _classified(store: EventStore, n: int, label: str, decision: str, start: int = 0) -> None:
    for i in range(start, start + n):
        eid, _ = store.add_event("zendesk", f"{label}{i}", f"k-{label}-{i}")
        store.claim(eid)
        store.record_classification(eid, label=label, score=0.7, decision=decision, classifier="fallback",
                                    model_version="m1", prompt_tokens=0, completion_tokens=0, latency_ms=1.0)
        store.finish(eid, EventState.NEEDS_REVIEW if decision == "needs_review" else EventState.WRITTEN_BACK)


def test_parse_since():
    assert parse_since("7d") == 7 * 86400 and parse_since("24h") == 86400 and parse_since("30m") == 1800
    assert parse_since("2") == 2 * 86400
    with pytest.raises(ValueError):
        parse_since("last week")


def test_window_stats_and_warnings(tmp_path: Path):
    store = EventStore(tmp_path / "t.sqlite3")
    _classified(store, 30, "billing", "auto_apply")
    _classified(store, 10, "other", "needs_review")
    s = window_stats(store, since_s=3600, training={"billing": 0.5, "refund": 0.5}, corrections=2)
    assert s.n == 40 and s.other_rate == 0.25 and s.needs_review_rate == 0.25
    assert s.correction_rate == pytest.approx(2 / 40)
    assert s.psi is not None and s.psi > 0.25
    text = " ".join(s.warnings)
    assert '"other" rate 25.0%' in text and "PSI" in text and "needs-review" not in text
    # outside the window: nothing counted
    later = window_stats(store, since_s=60, now=time.time() + 7200)
    assert later.n == 0 and later.warnings == []
    # same mix as training: no drift
    calm = window_stats(store, since_s=3600, training={"billing": 0.75, "other": 0.25})
    assert calm.psi == pytest.approx(0.0, abs=1e-9)


def test_report_cli_and_metrics_endpoint(tmp_path: Path, clean_env, capsys):
    settings = load_settings({"instance_dir": tmp_path / "inst"}, env={})
    store = EventStore(settings.db_path)
    _classified(store, 14, "billing", "auto_apply")
    _classified(store, 6, "other", "needs_review")
    _classified(store, 5, "refund", "needs_review")
    CorrectionStore(settings.db_path).add(vendor="zendesk", ticket_id="x", our_label="billing",
                                          agent_label="refund", source="tag", text="t")
    capsys.readouterr()
    assert main(["report", "--since", "7d", "--instance-dir", str(settings.instance_dir), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["n"] == 25 and s["other_rate"] == pytest.approx(6 / 25) and s["corrections"] == 1
    assert s["needs_review_rate"] == pytest.approx(11 / 25)
    assert main(["report", "--since", "7d", "--instance-dir", str(settings.instance_dir)]) == 0
    out = capsys.readouterr().out
    assert "WARNING" in out and "other" in out and "needs-review rate 44.0%" in out

    body = create_app(settings).test_client().get("/metrics").get_data(as_text=True)
    assert 'triage_other_rate{window="604800s"} 0.24' in body
    assert 'triage_needs_review_rate{window="604800s"} 0.44' in body
    assert 'triage_window_classified{window="604800s"} 25.0' in body
    assert 'triage_label_psi{window="604800s"} -1.0' in body  # bundled model: no stored distribution
