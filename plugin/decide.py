"""Thresholds -> Decision. Pure."""

from __future__ import annotations

from .result import Decision
from .taxonomy import Taxonomy


def decide(label: str, score: float, taxonomy: Taxonomy) -> Decision:
    """Map a label and calibrated score to AUTO_APPLY / SUGGEST / NEEDS_REVIEW.

    ``other`` and categories with ``auto_apply = false`` never auto-apply; ``other`` is never
    suggested either (it is not a routing decision), and anything below the suggest threshold
    needs a human.
    """
    t = taxonomy.thresholds
    if label not in taxonomy.names or label == taxonomy.other or score < t.suggest:
        return Decision.NEEDS_REVIEW
    if score >= t.auto_apply and taxonomy.get(label).auto_apply:
        return Decision.AUTO_APPLY
    return Decision.SUGGEST
