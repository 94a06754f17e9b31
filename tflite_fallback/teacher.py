"""Soft labels from the teacher (the LLM path) for distilling the fallback model.

Each ticket goes through the full pipeline; the Result's ranking (label scores from logprobs or
the model's own score) becomes a probability row. Rows answered by the fallback itself are
dropped by default: a student learning from itself learns nothing.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Callable, Iterable, Iterator

from plugin.result import ClassifierSource, Result

TEXT_COLUMNS = ("text", "utterance", "body", "ticket", "message")


def read_texts(path: str | Path, text_col: str | None = None) -> list[str]:
    """Ticket texts from a CSV, JSONL or plain-text (one ticket per line) file."""
    p = Path(path)
    if p.suffix.lower() in (".csv", ".jsonl", ".json"):
        if p.suffix.lower() == ".csv":
            with p.open(newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))
        else:
            rows = [json.loads(line) for line in p.read_text("utf-8").splitlines() if line.strip()]
        if not rows:
            return []
        col = text_col or next((c for c in TEXT_COLUMNS if c in rows[0]), None)
        if col is None or col not in rows[0]:
            raise ValueError(f"{p}: no text column (looked for {text_col or TEXT_COLUMNS})")
        return [str(r[col]) for r in rows if str(r.get(col) or "").strip()]
    return [line for line in p.read_text("utf-8").splitlines() if line.strip()]


def soft_label(result: Result) -> dict:
    """One soft-label row (the format ``training.read_soft_labels`` reads)."""
    probs = {ls.label: ls.score for ls in result.ranking}
    if not probs:
        probs = {result.label: result.score}
    return {"probabilities": probs, "label": result.label, "score": result.score,
            "classifier": str(result.classifier), "model_version": result.model_version}


def soft_labels(classify: Callable[[str], Result], texts: Iterable[str],
                include_fallback: bool = False) -> Iterator[dict]:
    """Yield ``{"text", "probabilities", "label", "score", ...}`` for each teacher-labelled text."""
    for text in texts:
        result = classify(text)
        if result.classifier != ClassifierSource.LLM and not include_fallback:
            continue
        yield {"text": text, **soft_label(result)}
