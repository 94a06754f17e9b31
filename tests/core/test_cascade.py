import json

import pytest

from plugin.llm import LLMClassifier, build_client
from plugin.pipeline import Pipeline
from plugin.result import ClassifierSource, ScoreSource
from plugin.retrieval import RetrievalIndex

LABELLED = [
    ("My parcel from last week never arrived, call +1 415 555 0100", "delivery"),
    ("The courier left my package at the wrong house", "delivery"),
    ("I need my money back for the broken kettle", "refund"),
    ("Refund still not on my card 4111 1111 1111 1111", "refund"),
    ("Charged twice for one subscription month", "billing"),
    ("Cannot sign in after changing my email", "account"),
    ("Please close my account and erase my data", "account"),
    ("The blender arrived but the lid is cracked", "refund"),
]


@pytest.fixture(scope="module")
def index():
    texts, labels = zip(*LABELLED)
    return RetrievalIndex.build(list(texts), list(labels))


def _cascade(tax, model, server, index, threshold):
    llm = LLMClassifier(build_client(server.base_url, "k", 0.5), "sim-model", tax.names, sleep=lambda s: None)
    return Pipeline(tax, model, llm=llm, mode="cascade", cascade_threshold=threshold, retriever=index, fewshot_k=3)


def test_index_is_redacted_and_finds_neighbours(index, tmp_path):
    assert all("4111" not in t and "415 555" not in t for t in index.texts)
    assert "[PHONE_1]" in index.texts[0] and "[CARD_1]" in index.texts[3]
    hits = index.search("the lid of my blender is cracked", 2)
    assert hits[0].label == "refund" and "blender" in hits[0].text
    index.save(tmp_path / "idx")
    again = RetrievalIndex.load(tmp_path / "idx")
    assert [e.text for e in again.search("package at the wrong house", 3)] == \
        [e.text for e in index.search("package at the wrong house", 3)]
    assert index.search("zzzz qqqq", 3) == []


def test_confident_tickets_never_reach_the_llm(default_taxonomy, tiny_fallback, openai_server, index):
    ticket = "where is my parcel"
    p = _cascade(default_taxonomy, tiny_fallback, openai_server, index, threshold=0.5)
    fallback_score = p._fallback_assessment(ticket)[0][0].score
    assert fallback_score >= 0.5, "precondition: the tiny model is confident on this ticket"
    r = p.classify(ticket)
    assert r.classifier is ClassifierSource.FALLBACK and r.reason.startswith("cascade: fallback confident")
    assert openai_server.requests == []


def test_unsure_tickets_go_to_the_llm_with_examples_and_no_pii(default_taxonomy, tiny_fallback, openai_server,
                                                                 index):
    ticket = "The blender lid came cracked, call me on +44 20 7946 0958"
    p = _cascade(default_taxonomy, tiny_fallback, openai_server, index, threshold=0.99)
    assert p._fallback_assessment(ticket)[0][0].score < 0.99
    r = p.classify(ticket)
    assert r.classifier is ClassifierSource.LLM and "llm answered" in r.reason
    assert len(openai_server.requests) == 1
    body = json.dumps(openai_server.requests[0]["body"])
    assert "The blender arrived but the lid is cracked" in body  # retrieved example present
    assert "7946" not in body and "4111" not in body and "555 0100" not in body
    user = openai_server.requests[0]["body"]["messages"][-1]["content"]
    assert user.index("<example") < user.index("<ticket>")
    assert r.label == "refund"  # the retrieved examples steer the simulated LLM


def test_llm_failure_keeps_the_fallback_answer_with_its_score(default_taxonomy, tiny_fallback, openai_server,
                                                              index):
    ticket = "The blender lid came cracked"
    openai_server.set_default("server_error")
    p = _cascade(default_taxonomy, tiny_fallback, openai_server, index, threshold=0.99)
    expected = p._fallback_assessment(ticket)[0][0]
    r = p.classify(ticket)
    assert r.classifier is ClassifierSource.FALLBACK and r.score_source is ScoreSource.CALIBRATED
    assert (r.label, r.score) == (expected.label, expected.score)
    assert "llm failed: server_error" in r.reason and r.reason.startswith("cascade")


def test_fewshot_token_budget(default_taxonomy, tiny_fallback, openai_server, index):
    p = _cascade(default_taxonomy, tiny_fallback, openai_server, index, threshold=1.0)
    p.fewshot_k, p.fewshot_token_budget = 8, 20
    p.classify("the parcel with the blender arrived broken")
    user = openai_server.requests[-1]["body"]["messages"][-1]["content"]
    assert 1 <= user.count("<example") <= 2


def test_index_command_and_settings(tmp_path, settings, tiny_model_dir, openai_server):
    from plugin.cli import main

    data = tmp_path / "tickets.csv"
    data.write_text("text,label\n" + "\n".join(f'"{t}",{lab}' for t, lab in LABELLED) + "\n")
    out = tmp_path / "index"
    assert main(["index", "--data", str(data), "--out", str(out)]) == 0
    s = settings.model_copy(update={"model_dir": str(tiny_model_dir), "index_dir": str(out),
                                    "llm_base_url": openai_server.base_url, "llm_model": "m",
                                    "classifier": "cascade", "cascade_threshold": 1.0})
    r = Pipeline.from_settings(s).classify("my kettle broke, money back please")
    assert r.classifier is ClassifierSource.LLM
    assert "<example label=\"refund\">" in openai_server.requests[-1]["body"]["messages"][-1]["content"]


def test_index_beside_the_model_is_found(tmp_path, settings, tiny_model_dir, index):
    import shutil

    from plugin.retrieval import default_index_dir, load_retriever_for

    model_dir = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model_dir)
    s = settings.model_copy(update={"model_dir": str(model_dir)})
    assert load_retriever_for(s) is None  # nothing built yet: prompts simply carry no examples
    index.save(model_dir / "index")
    assert default_index_dir(s) == model_dir / "index"
    assert len(load_retriever_for(s)) == len(index)


def test_llm_called_and_the_llm_only_prompt_estimate(default_taxonomy, tiny_fallback, openai_server, index):
    from plugin.budget import count_tokens

    ticket = "The blender lid came cracked, call me on +44 20 7946 0958"
    kept = _cascade(default_taxonomy, tiny_fallback, openai_server, index, threshold=0.0).classify(ticket)
    assert not kept.llm_called and openai_server.requests == []
    p = _cascade(default_taxonomy, tiny_fallback, openai_server, index, threshold=1.0)
    estimate = p.llm_prompt_tokens(ticket)
    assert openai_server.requests == []  # estimating sends nothing
    r = p.classify(ticket)
    assert r.llm_called and r.classifier is ClassifierSource.LLM
    sent = openai_server.requests[0]["body"]["messages"]
    assert "<example" in sent[-1]["content"]
    # the estimate is the prompt actually sent (examples included) plus the chat framing
    assert estimate == sum(count_tokens(m["content"], "cl100k_base") for m in sent) + 3 * len(sent) + 3
    openai_server.set_default("server_error")
    failed = p.classify(ticket)
    assert failed.llm_called and failed.classifier is ClassifierSource.FALLBACK
    assert Pipeline(default_taxonomy, tiny_fallback).llm_prompt_tokens(ticket) is None  # no LLM, no estimate
