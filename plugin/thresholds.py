"""Choose decision and cascade thresholds from labelled outcomes. Pure.

Thresholds are promises to agents ("auto-applied labels are right 95% of the time"), so they are
picked on labelled data for a target precision rather than guessed. Use a validation split, not
the data the model was trained on, or the promise will not hold in production.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .evaluation import Prediction
from .metrics import pick_thresholds
from .taxonomy import Taxonomy


@dataclass(frozen=True)
class ThresholdChoice:
    """Chosen thresholds and what they deliver on the data they were chosen on."""

    auto_apply: float
    suggest: float
    auto_apply_reached: bool  # False: no threshold reaches the target; auto_apply set to 1.0 (off)
    auto_coverage: float  # share of all items that would be auto-applied
    auto_precision: float | None
    suggest_coverage: float  # share auto-applied or suggested
    suggest_precision: float | None
    n: int


@dataclass(frozen=True)
class CascadeChoice:
    """Fallback answers when its score >= threshold; the rest go to the LLM."""

    threshold: float
    llm_share: float
    fallback_accuracy: float | None  # on the items the fallback keeps


def decision_thresholds(preds: Sequence[Prediction], taxonomy: Taxonomy, target_precision: float = 0.95,
                        suggest_precision: float | None = None, min_items: int = 5,
                        floor: float = 0.5) -> ThresholdChoice:
    """Lowest ``auto_apply`` whose auto-applied labels reach ``target_precision``; same for suggest.

    Only predictions that may be auto-applied count for ``auto_apply`` (not ``other``, not
    categories with ``auto_apply = false``), since those are what the threshold governs. At least
    ``min_items`` items must be covered, so one lucky ticket cannot set a threshold, and
    ``auto_apply`` never goes below ``floor``: on easy data every score reaches the target, and a
    threshold of 0.3 would auto-apply coin flips once the data gets harder.
    """
    eligible = [p for p in preds if p.label != taxonomy.other and p.label in taxonomy.names
                and taxonomy.get(p.label).auto_apply]
    routable = [p for p in preds if p.label != taxonomy.other]
    auto, _ = pick_thresholds([p.correct for p in eligible], [p.score for p in eligible],
                              target_precision, min_coverage_n=min_items)
    sp = suggest_precision if suggest_precision is not None else (0.5 + target_precision) / 2
    sug, _ = pick_thresholds([p.correct for p in routable], [p.score for p in routable], sp,
                             min_coverage_n=min_items)
    reached = auto is not None
    auto_v = round(max(auto, floor), 4) if reached else 1.0
    sug_v = round(min(sug, auto_v), 4) if sug is not None else auto_v
    n = len(preds)
    auto_items = [p for p in eligible if p.score >= auto_v] if reached else []
    sug_items = [p for p in routable if p.score >= sug_v]
    return ThresholdChoice(
        auto_apply=auto_v, suggest=sug_v, auto_apply_reached=reached,
        auto_coverage=len(auto_items) / n if n else 0.0,
        auto_precision=float(np.mean([p.correct for p in auto_items])) if auto_items else None,
        suggest_coverage=len(sug_items) / n if n else 0.0,
        suggest_precision=float(np.mean([p.correct for p in sug_items])) if sug_items else None, n=n)


def cascade_threshold(fallback_preds: Sequence[Prediction], *, target_accuracy: float | None = None,
                      llm_share: float | None = None) -> CascadeChoice:
    """Cascade threshold from the fallback's own outcomes.

    Args:
        fallback_preds: the fallback model's predictions on labelled items.
        target_accuracy: keep as many items on the fallback as possible while its answers on them
            stay at least this accurate (the LLM takes the rest).
        llm_share: alternatively, send about this share of tickets (the least confident) to the LLM.
    """
    if (target_accuracy is None) == (llm_share is None):
        raise ValueError("give exactly one of target_accuracy or llm_share")
    scores = np.array([p.score for p in fallback_preds], dtype=float)
    correct = np.array([p.correct for p in fallback_preds], dtype=bool)
    if target_accuracy is not None:
        t, _ = pick_thresholds(list(correct), list(scores), target_accuracy)
        t = 1.0 if t is None else t
    else:
        t = float(np.quantile(scores, min(max(llm_share, 0.0), 1.0))) if len(scores) else 1.0  # type: ignore[arg-type]
    kept = scores >= t
    return CascadeChoice(threshold=round(float(t), 4), llm_share=float(1 - kept.mean()) if len(scores) else 0.0,
                         fallback_accuracy=float(correct[kept].mean()) if kept.any() else None)
