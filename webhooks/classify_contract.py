"""The Hugging Face text-classification contract, as pure functions: parse the body, shape scores.

Kept apart from Flask so the rules (what is valid, what a score means under each
``function_to_apply``) are testable on their own and identical for every caller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from plugin.result import LabelScore, Result

MAX_INPUTS = 32
FUNCTIONS = ("softmax", "sigmoid", "none")
_MIN_P = 1e-12  # log(0) is -inf, which JSON cannot carry


class ContractError(ValueError):
    """The body does not follow the contract; the message is safe to return to the caller."""


@dataclass(frozen=True)
class ClassifyRequest:
    texts: list[str]
    batched: bool  # inputs was a list
    top_k: int | None = None
    function_to_apply: str = "softmax"


def parse_request(body: Any) -> ClassifyRequest:
    """Validate ``{"inputs": str | [str], "parameters": {"top_k"?, "function_to_apply"?}}``."""
    if not isinstance(body, dict):
        raise ContractError("body must be a JSON object with an 'inputs' field")
    inputs = body.get("inputs")
    if isinstance(inputs, str):
        texts, batched = [inputs], False
    elif isinstance(inputs, list) and inputs and all(isinstance(t, str) for t in inputs):
        texts, batched = list(inputs), True
    else:
        raise ContractError("'inputs' must be a string or a non-empty list of strings")
    if len(texts) > MAX_INPUTS:
        raise ContractError(f"at most {MAX_INPUTS} inputs per request")
    params = body.get("parameters")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ContractError("'parameters' must be an object")
    top_k = params.get("top_k")
    if isinstance(top_k, float) and top_k.is_integer():  # JSON has one number type: 3.0 is 3
        top_k = int(top_k)
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ContractError("'parameters.top_k' must be an integer >= 1")
    fn = params.get("function_to_apply")
    if fn is None:
        fn = "softmax"
    if fn not in FUNCTIONS:
        raise ContractError(f"'parameters.function_to_apply' must be one of {', '.join(FUNCTIONS)}")
    return ClassifyRequest(texts=texts, batched=batched, top_k=top_k, function_to_apply=fn)


def shape_scores(ranking: Sequence[LabelScore], function_to_apply: str,
                 top_k: int | None) -> list[dict[str, Any]]:
    """One input's ``[{"label", "score"}, …]``, best first.

    Our classifiers produce calibrated probabilities ``p`` (a softmax), so the logits are
    ``log p`` up to a constant: ``softmax`` returns ``p``; ``none`` returns ``log p``;
    ``sigmoid`` returns ``sigmoid(log p) = p / (1 + p)``. The order is the same in all three.
    """
    items = []
    for ls in ranking:
        p = max(float(ls.score), _MIN_P)
        if function_to_apply == "none":
            score = math.log(p)
        elif function_to_apply == "sigmoid":
            score = p / (1.0 + p)
        else:
            score = float(ls.score)
        items.append({"label": ls.label, "score": score})
    items.sort(key=lambda d: d["score"], reverse=True)
    return items[:top_k] if top_k else items


def details(result: Result) -> dict[str, Any]:
    """Our own fields for the extended form; never the ticket text."""
    return {
        "label": result.label,
        "score": result.score,
        "decision": result.decision.value,
        "classifier": result.classifier.value,
        "score_source": result.score_source.value,
        "model_version": result.model_version,
        "pii_counts": dict(result.pii_counts),
        "truncated": result.truncated,
        "latency_ms": round(result.latency_ms, 3),
        "reason": result.reason,
    }
