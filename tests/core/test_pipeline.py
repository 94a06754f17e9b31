import json
import threading

import pytest

from plugin.llm import LLMClassifier, build_client
from plugin.pipeline import Pipeline
from plugin.result import ClassifierSource, Decision, ScoreSource

PII_TICKET = ("I was charged twice for my order, card 4111 1111 1111 1111, call me on +1 415 555 0100 "
              "or mail jane.doe@example.com")
PII_VALUES = ("4111 1111 1111 1111", "415 555 0100", "jane.doe@example.com")


def _llm(server, taxonomy, **kw):
    return LLMClassifier(build_client(server.base_url, "k", kw.pop("timeout_s", 5.0)), "sim-model",
                         taxonomy.names, sleep=lambda s: None, **kw)


def _assert_no_pii_sent(server):
    for req in server.requests:
        sent = json.dumps(req["body"])
        for value in PII_VALUES:
            assert value not in sent


def test_fallback_only(default_taxonomy, tiny_fallback):
    r = Pipeline(default_taxonomy, tiny_fallback).classify(PII_TICKET, subject="Double charge")
    assert r.classifier is ClassifierSource.FALLBACK and r.score_source is ScoreSource.CALIBRATED
    assert r.label in default_taxonomy.names and r.label == "billing"
    assert r.reason == "fallback: no llm configured"
    assert r.pii_counts == {"card": 1, "phone": 1, "email": 1}
    assert all(v not in r.redacted_text for v in PII_VALUES)
    assert r.prompt_tokens > 100 and r.prompt_version == "classify_v1"
    assert r.model_version == tiny_fallback.version
    assert r.ranking[0].label == r.label and r.ranking[0].score == r.score
    assert sum(x.score for x in r.ranking) <= 1.0 + 1e-6


def test_llm_decides_and_nothing_personal_leaves(default_taxonomy, tiny_fallback, openai_server):
    p = Pipeline(default_taxonomy, tiny_fallback, llm=_llm(openai_server, default_taxonomy))
    r = p.classify(PII_TICKET)
    assert r.classifier is ClassifierSource.LLM and r.reason == "llm"
    assert r.label == "billing" and r.score_source is ScoreSource.LOGPROBS
    assert r.prompt_tokens > 0 and r.completion_tokens > 0 and r.model_version == "llm:sim-model"
    assert len(openai_server.requests) == 1
    _assert_no_pii_sent(openai_server)
    assert "[CARD_1]" in openai_server.requests[0]["body"]["messages"][-1]["content"]


@pytest.mark.parametrize("fault,kind", [("timeout", "timeout"), ("rate_limit", "rate_limited"),
                                        ("server_error", "server_error"), ("truncated", "truncated"),
                                        ("invalid_json", "invalid_json"), ("bad_label", "invalid_label"),
                                        ("refusal", "refusal")])
def test_any_llm_failure_falls_back(default_taxonomy, tiny_fallback, openai_server, fault, kind):
    openai_server.set_default(fault)
    openai_server.retry_after_s = 0.01
    p = Pipeline(default_taxonomy, tiny_fallback, llm=_llm(openai_server, default_taxonomy, timeout_s=0.3))
    r = p.classify(PII_TICKET)
    assert r.classifier is ClassifierSource.FALLBACK
    assert r.label in default_taxonomy.names
    assert r.reason.startswith(f"llm failed: {kind}")
    _assert_no_pii_sent(openai_server)


def test_no_logprobs_uses_model_field(default_taxonomy, tiny_fallback, openai_server):
    openai_server.set_default("no_logprobs")
    r = Pipeline(default_taxonomy, tiny_fallback, llm=_llm(openai_server, default_taxonomy)).classify(PII_TICKET)
    assert r.classifier is ClassifierSource.LLM and r.score_source is ScoreSource.MODEL_FIELD


def test_truncation_and_html(default_taxonomy, tiny_fallback):
    body = "<p>" + "My parcel has not arrived yet and I am waiting. " * 200 + "</p>"
    p = Pipeline(default_taxonomy, tiny_fallback, token_budget=32)
    r = p.classify(body)
    assert r.truncated and "<p>" not in r.redacted_text and len(r.redacted_text) < 200
    assert r.label == "delivery"


def test_other_never_auto_applies(default_taxonomy, tiny_fallback):
    r = Pipeline(default_taxonomy, tiny_fallback).classify("tell me a joke about the weather")
    assert r.label == "other" and r.decision is Decision.NEEDS_REVIEW


def test_thread_safe(default_taxonomy, tiny_fallback, openai_server):
    p = Pipeline(default_taxonomy, tiny_fallback, llm=_llm(openai_server, default_taxonomy))
    tickets = ["where is my parcel", "refund my money please", "I cannot log in", "cancel my order"] * 5
    results = [None] * len(tickets)

    def work(i):
        results[i] = p.classify(tickets[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(tickets))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = {t: p.classify(t).label for t in set(tickets)}
    assert [r.label for r in results] == [expected[t] for t in tickets]
    assert len(openai_server.requests) == len(tickets) + len(expected)


def test_from_settings(settings, tiny_model_dir, openai_server):
    s = settings.model_copy(update={"model_dir": str(tiny_model_dir)})
    p = Pipeline.from_settings(s)
    assert p.llm is None and p.classify("where is my parcel").classifier is ClassifierSource.FALLBACK
    s2 = s.model_copy(update={"llm_base_url": openai_server.base_url, "llm_model": "sim-model"})
    r = Pipeline.from_settings(s2).classify("where is my parcel")
    assert r.classifier is ClassifierSource.LLM and r.label == "delivery"


def test_llm_mode_without_endpoint_is_a_config_error(settings, tiny_model_dir):
    from plugin.exceptions import ConfigError

    s = settings.model_copy(update={"model_dir": str(tiny_model_dir), "classifier": "llm"})
    with pytest.raises(ConfigError):
        Pipeline.from_settings(s)


def test_vcr_replays_a_recorded_llm_call(default_taxonomy, tiny_fallback, tmp_path):
    """Record one interaction with the local server, stop it, replay from the cassette."""
    vcr = pytest.importorskip("vcr")
    from simulators.openai_server import OpenAISimulator

    cassette = str(tmp_path / "classify.yaml")
    my_vcr = vcr.VCR(record_mode="once", match_on=["method", "path", "body"])
    with OpenAISimulator() as server:
        base_url = server.base_url
        p = Pipeline(default_taxonomy, tiny_fallback, llm=_llm(server, default_taxonomy))
        with my_vcr.use_cassette(cassette):
            live = p.classify("My parcel has not arrived")
        assert len(server.requests) == 1
    with my_vcr.use_cassette(cassette, record_mode="none"):
        replayed = Pipeline(default_taxonomy, tiny_fallback, llm=LLMClassifier(
            build_client(base_url, "k", 5.0), "sim-model", default_taxonomy.names)).classify("My parcel has not arrived")
    assert replayed.classifier is ClassifierSource.LLM
    assert (replayed.label, replayed.score, replayed.prompt_tokens) == (live.label, live.score, live.prompt_tokens)


def test_unexpected_client_error_still_falls_back(default_taxonomy, tiny_fallback):
    class Broken:
        model = "broken"

        def classify(self, prompt):
            raise RuntimeError("boom")

    r = Pipeline(default_taxonomy, tiny_fallback, llm=Broken()).classify("where is my parcel")
    assert r.classifier is ClassifierSource.FALLBACK and "llm failed: unexpected" in r.reason


def test_huge_paste_is_bounded_and_still_redacted(default_taxonomy, tiny_fallback):
    text = "call me on +1 415 555 0100 about my card 4111 1111 1111 1111. " * 20000
    r = Pipeline(default_taxonomy, tiny_fallback, token_budget=64).classify(text)
    assert r.truncated and "4111" not in r.redacted_text and "555 0100" not in r.redacted_text
    assert r.pii_counts["card"] >= 1 and r.pii_counts["phone"] >= 1
