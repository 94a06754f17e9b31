"""Run a classifier over labelled items and summarise how it did.

The classifier is any ``classify(text, subject) -> Result`` callable, so the same code evaluates
the LLM, the fallback model, the cascade, or a candidate model during retraining.
:func:`classifier_from_settings` builds one from ``Settings`` through the pipeline.
"""

from __future__ import annotations

import json
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from . import metrics
from .config import Settings
from .datasets import Item
from .exceptions import ConfigError
from .result import Result
from .taxonomy import Taxonomy

Classify = Callable[[str, "str | None"], Result]


@dataclass(frozen=True)
class Prediction:
    """One item's outcome; the text is the redacted one the classifier saw.

    Token counts are those actually spent on an LLM (0 when the fallback answered on its own).
    ``llm_prompt_tokens`` is, for an item no LLM saw, the prompt tokens an LLM call would have
    sent (retrieved examples included; None when unknown): the basis of "saved vs LLM-only".
    """

    id: str
    gold: str
    label: str
    score: float
    decision: str
    classifier: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    model_version: str = ""
    prompt_version: str | None = None
    reason: str = ""
    text: str = ""
    llm_called: bool = False
    llm_prompt_tokens: int | None = None
    score_source: str = ""
    reported_score: float | None = None  # the LLM's own confidence field, beside a logprob score

    @property
    def correct(self) -> bool:
        return self.gold == self.label


@dataclass(frozen=True)
class Prices:
    """Price per 1,000 tokens, in the currency of the price table (USD by default)."""

    prompt_per_1k: float
    completion_per_1k: float


def classifier_from_settings(settings: Settings, taxonomy: Taxonomy | None = None) -> Classify:
    """The production pipeline as a ``classify(text, subject)`` callable.

    Settings choose the classifier (``classifier``), prompt (``prompt_template``), model
    (``model_dir``) and taxonomy, so an evaluation measures exactly what would run in production.
    """
    from .pipeline import Pipeline  # the pipeline pulls in the LLM client; import only when used

    if taxonomy is not None:
        try:
            pipe = Pipeline.from_settings(settings, taxonomy=taxonomy)
        except TypeError:
            pipe = Pipeline.from_settings(settings)
    else:
        pipe = Pipeline.from_settings(settings)
    return PipelineClassifier(pipe)


class PipelineClassifier:
    """``classify(text, subject) -> Result`` over a pipeline, plus the LLM-only cost estimate."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline

    def __call__(self, text: str, subject: str | None = None) -> Result:
        return self.pipeline.classify(text, subject=subject)

    def llm_prompt_tokens(self, text: str, subject: str | None = None) -> int | None:
        """Prompt tokens an LLM call would send for this item (None without an LLM); no request."""
        return self.pipeline.llm_prompt_tokens(text, subject)


def predict(items: Iterable[Item], classify: Classify, *, progress: bool = True,
            desc: str = "classifying", total: int | None = None) -> list[Prediction]:
    """Classify every item (with a progress bar on stderr) and pair each answer with its gold label."""
    out = []
    items = list(items)
    estimate = getattr(classify, "llm_prompt_tokens", None)
    for it in tqdm(items, desc=desc, total=total or len(items), disable=not progress, unit="ticket",
                   leave=False):
        t0 = time.perf_counter()
        r = classify(it.text, it.subject)
        latency = r.latency_ms or (time.perf_counter() - t0) * 1000.0
        # A fallback answer reports the tokens its prompt *would* cost; only count tokens spent.
        sent = r.llm_called or str(r.classifier) == "llm" or "llm failed" in r.reason
        would = None
        if not sent and estimate is not None:
            would = estimate(it.text, it.subject)  # outside the latency measured above
        out.append(Prediction(
            id=it.id, gold=it.label, label=r.label, score=float(r.score), decision=str(r.decision),
            classifier=str(r.classifier), prompt_tokens=r.prompt_tokens if sent else 0,
            completion_tokens=r.completion_tokens if sent else 0, latency_ms=float(latency),
            model_version=r.model_version, prompt_version=r.prompt_version, reason=r.reason,
            text=r.redacted_text, llm_called=sent, llm_prompt_tokens=would,
            score_source=str(r.score_source), reported_score=r.reported_score))
    return out


def llm_savings(preds: list[Prediction], prices: Prices) -> dict[str, Any] | None:
    """Tokens and cost spent vs an LLM-only run on the same items (estimated), or None.

    LLM-only = what was actually spent on the items that reached the LLM, plus, for each item the
    fallback kept, its would-be prompt (``Prediction.llm_prompt_tokens``: the same template and
    retrieved examples, counted with tiktoken) and the mean completion tokens of the items the LLM
    answered. None when an item the fallback kept has no estimate (e.g. no LLM configured).
    """
    kept = [p for p in preds if not p.llm_called]
    if any(p.llm_prompt_tokens is None for p in kept):
        return None
    answered = [p.completion_tokens for p in preds if p.llm_called and p.classifier == "llm"]
    mean_completion = sum(answered) / len(answered) if answered else 0.0
    spent_p = sum(p.prompt_tokens for p in preds)
    spent_c = sum(p.completion_tokens for p in preds)
    saved_p = sum(int(p.llm_prompt_tokens or 0) for p in kept)
    saved_c = round(mean_completion * len(kept))
    spent_cost = metrics.cost(spent_p, spent_c, prices.prompt_per_1k, prices.completion_per_1k)
    saved_cost = metrics.cost(saved_p, saved_c, prices.prompt_per_1k, prices.completion_per_1k)
    only_p, only_c, only_cost = spent_p + saved_p, spent_c + saved_c, spent_cost + saved_cost
    return {
        "llm_only_estimate": {"prompt": only_p, "completion": only_c, "tokens": only_p + only_c,
                              "cost": only_cost},
        "saved": {"prompt": saved_p, "completion": saved_c, "tokens": saved_p + saved_c, "cost": saved_cost,
                  "share": saved_cost / only_cost if only_cost else (1.0 if kept else 0.0),
                  "tokens_share": (saved_p + saved_c) / (only_p + only_c) if only_p + only_c else 0.0},
        "basis": (f"{len(kept)} items kept by the fallback: their prompts with retrieved examples counted "
                  f"locally (tiktoken), completions at the mean of {len(answered)} LLM-answered items "
                  f"({mean_completion:.1f} tokens)"),
    }


def summarize(preds: list[Prediction], taxonomy: Taxonomy, prices: Prices, *,
              top_confused: int = 10) -> dict[str, Any]:
    """Every headline number of an evaluation, as a JSON-ready dict.

    Labels are the taxonomy's categories plus any gold/predicted label outside it (so nothing is
    silently dropped from the confusion matrix).
    """
    gold = [p.gold for p in preds]
    pred = [p.label for p in preds]
    labels = list(taxonomy.names) + sorted((set(gold) | set(pred)) - set(taxonomy.names))
    cm = metrics.confusion_matrix(gold, pred, labels)
    stats = metrics.per_class(cm, labels)
    correct = [p.correct for p in preds]
    scores = [p.score for p in preds]
    bins, ece = metrics.reliability(correct, scores)
    n = len(preds)
    decisions = Counter(p.decision for p in preds)
    auto = [p.correct for p in preds if p.decision == "auto_apply"]
    llm_calls = sum(p.llm_called for p in preds)
    pt = sum(p.prompt_tokens for p in preds)
    ct = sum(p.completion_tokens for p in preds)
    total_cost = metrics.cost(pt, ct, prices.prompt_per_1k, prices.completion_per_1k)
    return {
        "n": n,
        "accuracy": metrics.accuracy(gold, pred),
        "macro_f1": metrics.macro_f1(stats),
        "per_class": [asdict(s) for s in stats if s.support or s.predicted],
        "confusion": {"labels": labels, "matrix": cm.tolist()},
        "most_confused": [{"gold": g, "predicted": p, "count": c}
                          for g, p, c in metrics.most_confused(cm, labels, top_confused)],
        "coverage": [asdict(c) for c in metrics.coverage_curve(correct, scores)],
        "reliability": {"bins": [asdict(b) for b in bins], "ece": ece},
        "other_rate": sum(p.label == taxonomy.other for p in preds) / n if n else 0.0,
        "needs_review_rate": decisions.get("needs_review", 0) / n if n else 0.0,
        "decisions": {k: v / n for k, v in sorted(decisions.items())} if n else {},
        "auto_apply_precision": (sum(auto) / len(auto)) if auto else None,
        "classifiers": dict(Counter(p.classifier for p in preds)),
        "llm_failures": sum("llm failed" in p.reason for p in preds),
        "llm": llm_answer_quality(preds),
        "model_versions": sorted({p.model_version for p in preds if p.model_version}),
        "prompt_versions": sorted({p.prompt_version for p in preds if p.prompt_version}),
        "tokens": {"prompt": pt, "completion": ct,
                   "prompt_per_item": pt / n if n else 0.0, "completion_per_item": ct / n if n else 0.0},
        "cost": {"total": total_cost, "per_1k_tickets": total_cost / n * 1000 if n else 0.0,
                 "price_prompt_per_1k": prices.prompt_per_1k,
                 "price_completion_per_1k": prices.completion_per_1k},
        "latency_ms": metrics.percentiles([p.latency_ms for p in preds]),
        # the cascade's split: how many items reached the LLM, what they cost, what was saved
        "llm_calls": llm_calls,
        "llm_share": llm_calls / n if n else 0.0,
        "latency_ms_by_path": {
            "llm": metrics.percentiles([p.latency_ms for p in preds if p.llm_called]),
            "fallback_only": metrics.percentiles([p.latency_ms for p in preds if not p.llm_called])},
        "savings": llm_savings(preds, prices),
    }


def llm_answer_quality(preds: list[Prediction]) -> dict[str, Any] | None:
    """How the LLM itself did on the items it was asked about (None when it never was).

    ``valid_rate``: share of calls that came back as a usable answer (JSON, a taxonomy label, a
    score); the others fell back. ``ece``: calibration of the score used (log-probabilities where
    the endpoint returned them); ``reported_ece``: of the model's self-reported score field.
    """
    called = [p for p in preds if p.llm_called]
    if not called:
        return None
    answered = [p for p in called if p.classifier == "llm"]
    reported = [p for p in answered if p.reported_score is not None]
    return {
        "calls": len(called),
        "valid_rate": len(answered) / len(called),
        "accuracy": (sum(p.correct for p in answered) / len(answered)) if answered else None,
        "score_sources": dict(Counter(p.score_source for p in answered)),
        "ece": metrics.reliability([p.correct for p in answered], [p.score for p in answered])[1]
        if answered else None,
        "reported_ece": metrics.reliability([p.correct for p in reported], [p.reported_score for p in reported])[1]
        if reported else None,
    }


def load_prices(settings: Settings, table: str | Path | None = None, model: str | None = None) -> Prices:
    """Prices from a per-model table file, else from Settings ``price_per_1k_*``.

    The table is TOML or JSON mapping a model name to ``{prompt = .., completion = ..}`` (per
    1,000 tokens); a ``default`` entry applies to models not listed.
    """
    default = Prices(settings.price_per_1k_prompt_tokens, settings.price_per_1k_completion_tokens)
    if table is None:
        return default
    p = Path(table)
    try:
        raw = p.read_text("utf-8")
        data = json.loads(raw) if p.suffix.lower() == ".json" else tomllib.loads(raw)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read price table {p}: {exc}") from exc
    entry = data.get(model or settings.llm_model or "", data.get("default"))
    if entry is None:
        return default
    try:
        return Prices(float(entry["prompt"]), float(entry["completion"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{p}: each model needs numeric `prompt` and `completion` prices") from exc


def predictions_to_jsonl(preds: list[Prediction], path: str | Path) -> None:
    """Per-item outcomes for later comparison or audit (redacted text only)."""
    with Path(path).open("w", encoding="utf-8") as fh:
        for p in preds:
            fh.write(json.dumps(asdict(p), ensure_ascii=False) + "\n")
