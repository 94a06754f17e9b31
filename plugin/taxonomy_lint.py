"""Find taxonomy problems an admin can fix: look-alike categories, a swollen "other", thin data. Pure.

Rules (the seed's): "other" above 15% of tickets is a warning, above 30% means the taxonomy needs
an audit (real topics are missing). Categories are "too similar" when their descriptions and
examples share most of their words, or when a classifier confuses them often.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .taxonomy import Taxonomy

OTHER_WARN = 0.15
OTHER_AUDIT = 0.30
DESCRIPTION_OVERLAP_WARN = 0.35  # Jaccard of content words
CONFUSION_WARN = 0.15  # share of the pair's items confused with each other
MIN_TAXONOMY_EXAMPLES = 2
MIN_DATA_EXAMPLES = 10
_WORD = re.compile(r"[a-z0-9]+")
_STOP = set("""a an and are as at be by can for from has have how i in is it its my of on or our the
their this to was we what when with you your about customer customers asks any anything""".split())


@dataclass(frozen=True)
class Finding:
    level: str  # "info" | "warn" | "audit"
    code: str
    message: str


def _words(text: str) -> set[str]:
    return {w.rstrip("s") for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 2}


def description_overlap(taxonomy: Taxonomy) -> list[tuple[str, str, float]]:
    """Jaccard similarity of each pair's description + examples words, most similar first."""
    bags = {c.name: _words(c.description + " " + " ".join(c.examples)) for c in taxonomy.categories
            if c.name != taxonomy.other}
    names = list(bags)
    out = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            union = bags[a] | bags[b]
            if union:
                out.append((a, b, len(bags[a] & bags[b]) / len(union)))
    return sorted(out, key=lambda x: -x[2])


def confused_pairs(summary: dict[str, Any]) -> list[tuple[str, str, float, int]]:
    """(a, b, confusion share, items) for each pair, from an evaluation summary's confusion matrix."""
    labels = summary["confusion"]["labels"]
    cm = summary["confusion"]["matrix"]
    out = []
    for i in range(len(labels)):
        for j in range(i + 1, len(labels)):
            mixed = cm[i][j] + cm[j][i]
            total = sum(cm[i]) + sum(cm[j])
            if mixed and total:
                out.append((labels[i], labels[j], mixed / total, total))
    return sorted(out, key=lambda x: -x[2])


def lint(taxonomy: Taxonomy, summary: dict[str, Any] | None = None,
         label_counts: dict[str, int] | None = None, other_rate: float | None = None) -> list[Finding]:
    """All findings, most severe first.

    Args:
        taxonomy: the taxonomy to check.
        summary: an evaluation summary (confusion matrix and other-rate), optional.
        label_counts: labelled examples per category in the training data, optional.
        other_rate: share of live tickets labelled "other" (e.g. from the store), optional;
            defaults to the summary's.
    """
    found: list[Finding] = []
    for a, b, sim in description_overlap(taxonomy):
        if sim >= DESCRIPTION_OVERLAP_WARN:
            found.append(Finding("warn", "similar-descriptions",
                                 f"{a} and {b} share {sim:.0%} of their description/example words; "
                                 "sharpen the descriptions or merge them"))
    if summary is not None:
        for a, b, share, total in confused_pairs(summary):
            if share >= CONFUSION_WARN and total >= 10:
                found.append(Finding("warn", "confused-categories",
                                     f"{a} and {b} are confused in {share:.0%} of their {total} items"))
        if other_rate is None:
            other_rate = summary.get("other_rate")
    if other_rate is not None:
        if other_rate > OTHER_AUDIT:
            found.append(Finding("audit", "other-too-high",
                                 f'"{taxonomy.other}" is {other_rate:.0%} of tickets (> {OTHER_AUDIT:.0%}): '
                                 "audit the taxonomy, real topics are missing"))
        elif other_rate > OTHER_WARN:
            found.append(Finding("warn", "other-high",
                                 f'"{taxonomy.other}" is {other_rate:.0%} of tickets (> {OTHER_WARN:.0%})'))
    other_rows = None if label_counts is None else label_counts.get(taxonomy.other, 0)
    if other_rows is not None and other_rows < MIN_DATA_EXAMPLES:
        found.append(Finding("info", "few-other-examples",
                             f'"{taxonomy.other}" has {other_rows} labelled example(s) '
                             f"(< {MIN_DATA_EXAMPLES}): off-topic tickets are then caught only by low "
                             "confidence; label real off-topic tickets with it (out-of-scope AUROC on "
                             "BANKING77-OOS: 0.84 without such examples, 0.955 with them)"))
    for c in taxonomy.categories:
        if c.name == taxonomy.other:
            continue
        if len(c.examples) < MIN_TAXONOMY_EXAMPLES:
            found.append(Finding("info", "few-prompt-examples",
                                 f"{c.name} has {len(c.examples)} example(s) in the taxonomy "
                                 f"(< {MIN_TAXONOMY_EXAMPLES}); examples steer the LLM"))
        if label_counts is not None and label_counts.get(c.name, 0) < MIN_DATA_EXAMPLES:
            found.append(Finding("warn", "few-training-examples",
                                 f"{c.name} has {label_counts.get(c.name, 0)} labelled example(s) "
                                 f"(< {MIN_DATA_EXAMPLES}); the fallback model cannot learn it"))
    order = {"audit": 0, "warn": 1, "info": 2}
    return sorted(found, key=lambda f: order[f.level])
