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

    Token counts are those actually sent to an LLM (0 when the fallback answered on its own).
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
    return lambda text, subject=None: pipe.classify(text, subject=subject)


def predict(items: Iterable[Item], classify: Classify, *, progress: bool = True,
            desc: str = "classifying", total: int | None = None) -> list[Prediction]:
    """Classify every item (with a progress bar on stderr) and pair each answer with its gold label."""
    out = []
    items = list(items)
    for it in tqdm(items, desc=desc, total=total or len(items), disable=not progress, unit="ticket",
                   leave=False):
        t0 = time.perf_counter()
        r = classify(it.text, it.subject)
        latency = r.latency_ms or (time.perf_counter() - t0) * 1000.0
        # A fallback answer reports the tokens its prompt *would* cost; only count tokens sent.
        sent = str(r.classifier) == "llm" or "llm failed" in r.reason
        out.append(Prediction(
            id=it.id, gold=it.label, label=r.label, score=float(r.score), decision=str(r.decision),
            classifier=str(r.classifier), prompt_tokens=r.prompt_tokens if sent else 0,
            completion_tokens=r.completion_tokens if sent else 0, latency_ms=float(latency),
            model_version=r.model_version, prompt_version=r.prompt_version, reason=r.reason,
            text=r.redacted_text))
    return out


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
        "model_versions": sorted({p.model_version for p in preds if p.model_version}),
        "prompt_versions": sorted({p.prompt_version for p in preds if p.prompt_version}),
        "tokens": {"prompt": pt, "completion": ct,
                   "prompt_per_item": pt / n if n else 0.0, "completion_per_item": ct / n if n else 0.0},
        "cost": {"total": total_cost, "per_1k_tickets": total_cost / n * 1000 if n else 0.0,
                 "price_prompt_per_1k": prices.prompt_per_1k,
                 "price_completion_per_1k": prices.completion_per_1k},
        "latency_ms": metrics.percentiles([p.latency_ms for p in preds]),
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
