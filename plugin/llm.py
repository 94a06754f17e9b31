"""The only place that calls an LLM: an injected ``openai.OpenAI`` client, structured output.

The response is constrained by a JSON schema whose ``label`` is an enum of the taxonomy, and the
score is taken from the token log-probabilities of the label when the endpoint returns them (a
measured probability) rather than the model's self-reported number (usually overconfident).
Every failure becomes an ``LLMError`` with a machine-readable ``kind`` so the pipeline can fall
back; nothing here ever returns a label outside the taxonomy.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import openai
from pydantic import BaseModel, Field, create_model

from .exceptions import LLMError
from .prompting import Prompt
from .result import LabelScore, ScoreSource

log = logging.getLogger(__name__)

DEFAULT_MAX_RETRY_AFTER_S = 10.0  # honour a 429's Retry-After up to this long, else fail fast
DEFAULT_MAX_OUTPUT_TOKENS = 40  # {"label": ..., "score": ...} needs ~15; output tokens dominate latency
ResponseFormat = Literal["json_schema", "json_object", "none"]
_NO_RETRY = {"refusal", "bad_request", "auth"}


def output_model(labels: list[str]) -> type[BaseModel]:
    """Pydantic model of the answer: ``label`` is one of ``labels``, ``score`` in [0, 1]."""
    return create_model(
        "Classification",
        label=(Literal[tuple(labels)], Field(description="one category name")),  # type: ignore[valid-type]
        score=(float, Field(ge=0.0, le=1.0, description="confidence that the label is right")),
    )


def request_format(labels: list[str], kind: ResponseFormat = "json_schema") -> dict[str, Any] | None:
    """The ``response_format`` for chat completions.

    ``json_schema``: strict JSON schema mode, the label an enum (OpenAI, llama.cpp's llama-server,
    vLLM, Ollama >= 0.5 all constrain decoding to it); ``json_object``: JSON mode only, for servers
    without schema support; ``none``: no constraint (the prompt still asks for JSON).
    """
    if kind == "none":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    schema = output_model(labels).model_json_schema()
    schema["additionalProperties"] = False
    schema["required"] = ["label", "score"]
    schema.pop("title", None)
    return {"type": "json_schema", "json_schema": {"name": "classification", "strict": True, "schema": schema}}


def parse_answer(content: str) -> dict[str, Any] | None:
    """The answer object from a completion: the whole content, else the first JSON object in it.

    Schema-constrained servers return bare JSON; unconstrained ones wrap it in prose or a code
    fence, which is tolerated (the label is still checked against the taxonomy).
    """
    try:
        data = json.loads(content)
    except json.JSONDecodeError:
        data = None
        decoder = json.JSONDecoder()
        start = content.find("{")
        while data is None and start >= 0:
            try:
                data, _ = decoder.raw_decode(content, start)
            except json.JSONDecodeError:
                start = content.find("{", start + 1)
    return data if isinstance(data, dict) else None


def match_label(value: object, labels: list[str]) -> str | None:
    """``value`` as a taxonomy label: exact, else the one label equal to it ignoring case/spaces."""
    if not isinstance(value, str):
        return None
    if value in labels:
        return value
    wanted = " ".join(value.split()).casefold()
    matches = [name for name in labels if name.casefold() == wanted]
    return matches[0] if len(matches) == 1 else None


@dataclass
class LLMOutcome:
    """One successful classification with its cost and timing."""

    label: str
    score: float
    score_source: ScoreSource
    ranking: list[LabelScore] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    attempts: int = 1
    model: str = ""
    reported_score: float | None = None  # the model's own "score" field, kept beside a logprob score


class LLMClassifier:
    """Classify a rendered prompt with any OpenAI-compatible chat completions endpoint.

    Args:
        client: an ``openai.OpenAI`` client (its own retries should be 0; we retry here so the
            attempts and tokens are counted).
        model: model name sent to the endpoint.
        labels: the taxonomy's category names, in prompt order.
        max_retries: extra attempts after a retryable failure.
        use_logprobs: ask for token log-probabilities and derive the score from them.
        response_format: how the answer is constrained (see ``request_format``).
        max_retry_after_s: longest Retry-After we wait for; longer ones fail at once.
        sleep: injected for tests.
    """

    def __init__(self, client: openai.OpenAI, model: str, labels: list[str], *, max_retries: int = 1,
                 use_logprobs: bool = True, max_retry_after_s: float = DEFAULT_MAX_RETRY_AFTER_S,
                 max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS, response_format: ResponseFormat = "json_schema",
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.model = model
        self.labels = list(labels)
        self.max_retries = max_retries
        self.use_logprobs = use_logprobs
        self.max_retry_after_s = max_retry_after_s
        self.max_output_tokens = max_output_tokens
        self.sleep = sleep
        self._format = request_format(self.labels, response_format)

    def classify(self, prompt: Prompt) -> LLMOutcome:
        """Send the prompt; return label and score, or raise ``LLMError`` after retries."""
        prompt_tokens = completion_tokens = 0
        started = time.perf_counter()
        attempts = 0
        while True:
            attempts += 1
            try:
                outcome = self._once(prompt)
            except _AttemptFailed as failure:
                prompt_tokens += failure.prompt_tokens
                completion_tokens += failure.completion_tokens
                retry = failure.kind not in _NO_RETRY and attempts <= self.max_retries
                wait = failure.retry_after or 0.0
                if retry and wait > self.max_retry_after_s:
                    retry = False
                log.info("llm attempt %d failed: %s%s", attempts, failure.kind, " (retrying)" if retry else "")
                if not retry:
                    raise LLMError(failure.kind, failure.message, attempts=attempts,
                                   prompt_tokens=prompt_tokens, completion_tokens=completion_tokens) from None
                if wait:
                    self.sleep(wait)
                continue
            outcome.prompt_tokens += prompt_tokens
            outcome.completion_tokens += completion_tokens
            outcome.attempts = attempts
            outcome.latency_ms = (time.perf_counter() - started) * 1000
            return outcome

    def _once(self, prompt: Prompt) -> LLMOutcome:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": prompt.messages,
            "temperature": 0,
            "max_tokens": self.max_output_tokens,
        }
        if self._format is not None:
            kwargs["response_format"] = self._format
        if self.use_logprobs:
            kwargs.update(logprobs=True, top_logprobs=5)
        try:
            response = self.client.chat.completions.create(**kwargs)
        except openai.APITimeoutError as exc:
            raise _AttemptFailed("timeout", str(exc)) from None
        except openai.RateLimitError as exc:
            raise _AttemptFailed("rate_limited", str(exc), retry_after=_retry_after(exc.response)) from None
        except openai.InternalServerError as exc:
            raise _AttemptFailed("server_error", f"HTTP {exc.status_code}") from None
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise _AttemptFailed("auth", f"HTTP {exc.status_code}") from None
        except openai.APIStatusError as exc:
            kind = "server_error" if exc.status_code >= 500 else "bad_request"
            raise _AttemptFailed(kind, f"HTTP {exc.status_code}: {exc.message}") from None
        except openai.APIConnectionError as exc:
            raise _AttemptFailed("connection", str(exc)) from None
        except (ValueError, TypeError) as exc:  # malformed body the SDK could not parse
            raise _AttemptFailed("invalid_json", str(exc)) from None
        try:
            return self._parse(response)
        except (AttributeError, KeyError, IndexError, TypeError) as exc:  # a response of the wrong shape
            raise _AttemptFailed("invalid_response", repr(exc)[:200]) from None

    def _parse(self, response: Any) -> LLMOutcome:
        usage = getattr(response, "usage", None)
        p_tok = int(getattr(usage, "prompt_tokens", 0) or 0)
        c_tok = int(getattr(usage, "completion_tokens", 0) or 0)
        if not response.choices:
            raise _AttemptFailed("invalid_json", "no choices", p_tok, c_tok)
        choice = response.choices[0]
        message = choice.message
        if getattr(message, "refusal", None):
            raise _AttemptFailed("refusal", str(message.refusal)[:200], p_tok, c_tok)
        content = message.content or ""
        data = parse_answer(content)
        if data is None:
            kind = "invalid_json" if choice.finish_reason != "length" else "truncated"
            raise _AttemptFailed(kind, f"cannot parse {content[:80]!r}", p_tok, c_tok)
        label = match_label(data.get("label"), self.labels)
        if label is None:
            raise _AttemptFailed("invalid_label", f"label {str(data.get('label'))[:40]!r} is not in the taxonomy",
                                 p_tok, c_tok)
        reported = _reported_score(data.get("score"))
        derived = None
        tokens = getattr(getattr(choice, "logprobs", None), "content", None)
        if tokens:
            derived = label_probability(content, label, tokens, self.labels)
        if derived is not None:
            (score, ranking), source = derived, ScoreSource.LOGPROBS
        elif reported is not None:
            score, ranking, source = reported, [LabelScore(label=label, score=reported)], ScoreSource.MODEL_FIELD
        else:
            raise _AttemptFailed("invalid_json", f"no score in {content[:80]!r} and no log-probabilities",
                                 p_tok, c_tok)
        return LLMOutcome(label=label, score=score, score_source=source, ranking=ranking, reported_score=reported,
                          prompt_tokens=p_tok, completion_tokens=c_tok, model=getattr(response, "model", "") or "")


def label_probability(content: str, label: str, tokens: list[Any],
                      labels: list[str]) -> tuple[float, list[LabelScore]] | None:
    """Probability of the label value from token log-probabilities.

    The label value's characters are located in ``content``; the log-probabilities of the tokens
    that overlap it are summed and exponentiated. Alternatives in the first label token's
    ``top_logprobs`` that start exactly one other label give the rest of the ranking, after the
    answered label.

    Returns:
        (score, ranking) or None when the tokens do not line up with the content.
    """
    # The tokens normally spell the content exactly; llama.cpp's llama-server can also report
    # tokens of a wrapper it stripped (a ```json fence), so positions are taken in the tokens' text.
    joined = "".join(getattr(tok, "token", "") or "" for tok in tokens)
    if content not in joined:
        return None
    key = joined.find('"label"', joined.find(content))
    start = joined.find('"' + label + '"', key + 7 if key >= 0 else 0)
    if start < 0:
        return None
    start += 1
    end = start + len(label)
    pos, total, first = 0, 0.0, None
    for tok in tokens:
        text = getattr(tok, "token", "") or ""
        t_start, t_end = pos, pos + len(text)
        pos = t_end
        if t_end <= start or t_start >= end:
            continue
        if tok.logprob is None:
            return None
        total += float(tok.logprob)
        if first is None:
            first = (tok, start - t_start)
    if first is None:
        return None
    score = min(1.0, max(0.0, math.exp(total)))
    scores = {label: score}
    tok, offset = first
    for alt in getattr(tok, "top_logprobs", None) or []:
        piece = (alt.token or "")[max(offset, 0):].strip()
        if not piece:
            continue
        matches = [name for name in labels if name.startswith(piece) and name != label]
        if len(matches) == 1 and matches[0] not in scores:
            scores[matches[0]] = min(1.0, math.exp(float(alt.logprob)))
    # The answer comes first: its score is the exact product over all its tokens, an alternative's
    # is its first token only (an upper bound on its own product), so sorting them together could
    # put an alternative above the label the model actually wrote.
    alternatives = sorted(((k, v) for k, v in scores.items() if k != label), key=lambda kv: -kv[1])
    ranking = [LabelScore(label=k, score=v) for k, v in [(label, score), *alternatives]]
    return score, ranking


def _reported_score(value: object) -> float | None:
    """The answer's ``score`` in [0, 1]; a number in (1, 100] is read as a percentage (small models
    write ``"score": 100``: schema grammars do not enforce bounds); anything else is no score."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if 1.0 < value <= 100.0:
        value = value / 100.0
    return float(value) if 0.0 <= value <= 1.0 else None


def _retry_after(response: Any) -> float | None:
    """Seconds from a ``Retry-After`` (or ``retry-after-ms``) header; None if absent or a date."""
    headers = getattr(response, "headers", None) or {}
    try:
        if headers.get("retry-after-ms"):
            return float(headers["retry-after-ms"]) / 1000
        if headers.get("retry-after"):
            return float(headers["retry-after"])
    except ValueError:
        return None
    return None


class _AttemptFailed(Exception):
    def __init__(self, kind: str, message: str = "", prompt_tokens: int = 0, completion_tokens: int = 0,
                 *, retry_after: float | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.message = message
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens
        self.retry_after = retry_after


def build_client(base_url: str | None, api_key: str | None, timeout_s: float) -> openai.OpenAI:
    """An ``openai.OpenAI`` client with SDK retries off (``LLMClassifier`` retries and counts)."""
    return openai.OpenAI(base_url=base_url, api_key=api_key or "not-needed", timeout=timeout_s, max_retries=0)
