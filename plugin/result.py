"""The one result type that flows from the pipeline to the store, write-back, API and CLI."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class Decision(StrEnum):
    """What to do with a label (Salesforce Einstein's three levels)."""

    AUTO_APPLY = "auto_apply"
    SUGGEST = "suggest"
    NEEDS_REVIEW = "needs_review"


class ClassifierSource(StrEnum):
    """Which classifier produced the final label."""

    LLM = "llm"
    FALLBACK = "fallback"


class ScoreSource(StrEnum):
    """Where the score came from, so users know how far to trust it."""

    LOGPROBS = "logprobs"  # exp(sum of label-token log-probabilities) from the endpoint
    MODEL_FIELD = "model_field"  # the LLM's self-reported confidence field
    CALIBRATED = "calibrated"  # temperature-scaled softmax of the fallback model


class LabelScore(BaseModel):
    label: str
    score: float = Field(ge=0.0, le=1.0)


class Result(BaseModel):
    """One classified ticket."""

    label: str
    score: float = Field(ge=0.0, le=1.0)
    decision: Decision
    classifier: ClassifierSource
    score_source: ScoreSource
    redacted_text: str
    pii_counts: dict[str, int] = Field(default_factory=dict)
    # Tokens: when ``llm_called`` they are the endpoint's reported usage (all attempts, failed
    # ones included); otherwise prompt_tokens is what the prompt *would* cost (tiktoken, without
    # retrieved examples) and nothing was spent.
    prompt_tokens: int = 0
    completion_tokens: int = 0
    truncated: bool = False
    latency_ms: float = 0.0
    model_version: str = ""
    prompt_version: str | None = None
    ranking: list[LabelScore] = Field(default_factory=list)
    reason: str = ""  # why this path answered (e.g. "llm", "no llm configured", "llm failed: timeout")
    llm_called: bool = False  # an LLM request was made for this ticket (also when it failed)
    # the LLM's self-reported confidence, kept beside a log-probability score so that the
    # calibration of both can be measured (``triage eval``); None when no LLM answered
    reported_score: float | None = Field(None, ge=0.0, le=1.0)
