import math

import pytest

from plugin.result import LabelScore
from webhooks.classify_contract import MAX_INPUTS, ContractError, parse_request, shape_scores

RANKING = [LabelScore(label="refund", score=0.2), LabelScore(label="billing", score=0.7),
           LabelScore(label="other", score=0.1)]


def test_parse_single_and_batch():
    r = parse_request({"inputs": "charged twice"})
    assert r.texts == ["charged twice"] and not r.batched and r.top_k is None
    assert r.function_to_apply == "softmax"
    r = parse_request({"inputs": ["a b", "c"], "parameters": {"top_k": 2, "function_to_apply": "none"}})
    assert r.texts == ["a b", "c"] and r.batched and r.top_k == 2 and r.function_to_apply == "none"
    # the HF client sends nulls for parameters it was not given
    assert parse_request({"inputs": "x", "parameters": {"top_k": None, "function_to_apply": None}}).top_k is None
    assert parse_request({"inputs": "x", "parameters": {"top_k": 3.0}}).top_k == 3
    # like the HF API, any string is an input (blank text simply classifies as low confidence)
    assert parse_request({"inputs": ["", "  "]}).texts == ["", "  "]


@pytest.mark.parametrize("body", [
    None, [], "text", {}, {"inputs": 3}, {"inputs": []}, {"inputs": [1]}, 
    {"inputs": "x", "parameters": []}, {"inputs": "x", "parameters": {"top_k": 0}},
    {"inputs": "x", "parameters": {"top_k": True}}, {"inputs": "x", "parameters": {"top_k": 1.5}},
    {"inputs": "x", "parameters": {"function_to_apply": "relu"}}, {"inputs": ["x"] * (MAX_INPUTS + 1)},
])
def test_parse_rejects(body):
    with pytest.raises(ContractError):
        parse_request(body)


def test_shape_sorts_and_limits():
    out = shape_scores(RANKING, "softmax", None)
    assert [d["label"] for d in out] == ["billing", "refund", "other"]
    assert [d["score"] for d in out] == [0.7, 0.2, 0.1]
    assert shape_scores(RANKING, "softmax", 1) == [{"label": "billing", "score": 0.7}]
    assert len(shape_scores(RANKING, "softmax", 50)) == 3


def test_function_to_apply_transforms_keep_order():
    none = shape_scores(RANKING, "none", None)
    assert none[0] == {"label": "billing", "score": math.log(0.7)}
    sig = shape_scores(RANKING, "sigmoid", None)
    assert sig[0]["score"] == pytest.approx(0.7 / 1.7)
    assert [d["label"] for d in none] == [d["label"] for d in sig] == ["billing", "refund", "other"]
    zero = shape_scores([LabelScore(label="x", score=0.0)], "none", None)
    assert math.isfinite(zero[0]["score"])
