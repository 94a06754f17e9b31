"""The taxonomy audit finds a planted missing category, and `triage taxonomy audit` runs over the store.

The sample (tests/tuning/data/audit_planted_sample.jsonl, written by
``bench/bench_audit.py --dataset banking77 --hidden card_swallowed --sample-out``) is BANKING77
traffic (CC BY 4.0, Casanueva et al. 2020) classified by a fallback model trained without the
``card_swallowed`` intent: every other / needs-review ticket plus 300 others.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from plugin.cli import main
from plugin.config import load_settings
from plugin.datasets import taxonomy_toml_from_labels
from plugin.rollout import MANUAL, RolloutStore
from plugin.store import EventState, EventStore
from plugin.taxonomy import parse_taxonomy
from plugin.taxonomy_audit import AuditItem, audit, planted_class_match, render_audit_text

SAMPLE = Path(__file__).parent / "data" / "audit_planted_sample.jsonl"
HIDDEN = "card_swallowed"
GOAL = 0.8


def _sample() -> tuple[list[AuditItem], object]:
    rows = [json.loads(line) for line in SAMPLE.read_text("utf-8").splitlines()]
    items = [AuditItem(str(i), r["text"], r["label"], r["score"], r["decision"], gold=r["gold"])
             for i, r in enumerate(rows)]
    labels = sorted({r["gold"] for r in rows if r["gold"] != HIDDEN} | {r["label"] for r in rows})
    return items, parse_taxonomy(taxonomy_toml_from_labels(labels))


def test_audit_finds_the_planted_category():
    items, taxonomy = _sample()
    assert HIDDEN not in taxonomy.names
    report = audit(items, taxonomy)
    match = planted_class_match(report, items, HIDDEN)
    assert match["purity"] >= GOAL and match["recall"] >= GOAL, match
    assert match["hidden_in_pool"] >= 8  # enough planted tickets reached the pool for the figure to mean something
    found = next(s for s in report.suggestions if s.name == match["name"])
    assert any(t in ("swallowed", "machine", "atm") for t in found.terms), found.terms
    # the suggestion pastes into the taxonomy file as is
    block = found.toml()
    parsed = tomllib.loads(block)["categories"][0]
    assert parsed["name"] == found.name and parsed["auto_apply"] is False and parsed["examples"]
    text = render_audit_text(report)
    assert block in text and "other" in text


def test_no_suggestion_from_a_pool_without_a_topic():
    """Pool tickets spread over many known intents (the planted ones removed): no big cluster of the
    hidden class can be proposed, and whatever is proposed is at least MIN_CLUSTER tickets."""
    items, taxonomy = _sample()
    rest = [it for it in items if it.gold != HIDDEN]
    report = audit(rest, taxonomy)
    assert planted_class_match(report, rest, HIDDEN)["size"] == 0
    assert all(s.size >= 5 for s in report.suggestions)


@pytest.fixture
def stored_traffic(tmp_path):
    """The sample as the job leaves it in the store (events + rollout rows with redacted text)."""
    items, taxonomy = _sample()
    tax_file = tmp_path / "taxonomy.toml"
    tax_file.write_text(taxonomy_toml_from_labels(sorted(taxonomy.names)), "utf-8")
    settings = load_settings({"instance_dir": tmp_path / "instance", "taxonomy": str(tax_file)}, env={})
    store, rollout = EventStore(settings.database), RolloutStore(settings.database)
    by_event = {}
    for it in items:
        eid, _ = store.add_event("zendesk", it.id, f"k{it.id}")
        store.claim(eid)
        store.record_classification(eid, label=it.label, score=it.score, decision=it.decision, classifier="fallback",
                                    model_version="m", prompt_tokens=0, completion_tokens=0, latency_ms=1.0)
        store.finish(eid, EventState.SHADOW, tags_written=[])
        rollout.record_ticket(eid, vendor="zendesk", ticket_id=it.id, grp=MANUAL, path="fallback", text=it.text)
        by_event[eid] = it
    return settings, tax_file, by_event


def test_cli_audits_the_store(stored_traffic, capsys):
    settings, tax_file, by_event = stored_traffic
    items = list(by_event.values())
    code = main(["taxonomy", "audit", "--instance-dir", str(settings.instance_dir), "--taxonomy", str(tax_file),
                 "--since", "1d", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code in (0, 1) and out["n"] == len(items)
    assert out["pool"] == sum(it.decision == "needs_review" or it.label == "other" for it in items)
    hidden = [s for s in out["suggestions"] if sum(by_event[m].gold == HIDDEN for m in s["member_ids"])
              >= GOAL * len(s["member_ids"])]
    assert hidden, "the planted category is among the store audit's suggestions"
