"""Retrain the fallback on original data + agents' corrections; promote only if not worse.

The candidate and the active model are scored by the same pipeline (normalise, redact, fallback,
decide) on the same held-out items, a stratified share of original data and corrections
together, so the corrected (hard) tickets are part of the test. The candidate is promoted when
its held-out accuracy is at least the current model's minus ``tolerance``; McNemar's test on the
paired outcomes is reported so a "better" by a hair is not mistaken for a real gain.

A promoted model carries its own few-shot retrieval index (``<model dir>/index``, built from the
original data + corrections, the agents' labels winning), which the pipeline finds beside the
active model; so cascade / few-shot prompts use the new examples from the promotion on, and
``triage rollback`` brings the previous model's index back with it.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import registry
from .config import Settings
from .datasets import Item, stratified_split
from .evaluation import Prices, predict, summarize
from .fallback import load_fallback
from .metrics import McNemar, mcnemar
from .monitoring import DISTRIBUTION_FILE
from .taxonomy import Taxonomy

DEFAULT_PARAMS: dict[str, Any] = {"seed": 0}
INDEX_SUBDIR = "index"  # where ``retrieval.default_index_dir`` looks beside the active model


@dataclass
class RetrainOutcome:
    promoted: bool
    reason: str
    candidate_version: str
    current_version: str
    candidate: dict[str, Any]  # evaluation summary on the held-out items
    current: dict[str, Any]
    test: McNemar
    n_train: int
    n_holdout: int
    n_corrections: int
    model_dir: str | None  # where the candidate was saved (registry) when promoted
    index_dir: str | None = None  # the retrieval index saved beside the promoted model
    n_index: int = 0  # examples in it


def _pipeline_classify(settings: Settings, taxonomy: Taxonomy, model) -> Callable:
    from .pipeline import Pipeline

    s = settings.model_copy(update={"classifier": "fallback"})
    pipe = Pipeline.from_settings(s, taxonomy=taxonomy, fallback=model)
    return lambda text, subject=None: pipe.classify(text, subject=subject)


def train_candidate(train: list[Item], taxonomy: Taxonomy, params: dict[str, Any] | None = None,
                    soft: tuple[list[str], np.ndarray, list[str]] | None = None):
    """Fit a new fallback model on labelled items plus optional LLM soft labels (distillation).

    Labelled rows train on one-hot targets, soft rows on the teacher's distribution.
    """
    from tflite_fallback.model import HashBagClassifier

    labels = {it.label for it in train}
    classes = [n for n in taxonomy.names if n in labels] + sorted(labels - set(taxonomy.names))
    model = HashBagClassifier(**{**DEFAULT_PARAMS, **(params or {})})
    texts = [it.text for it in train]
    if soft is None:
        return model.fit(texts, [it.label for it in train], classes=classes)
    s_texts, s_targets, s_classes = soft
    classes = classes + [c for c in s_classes if c not in classes]
    index = {c: i for i, c in enumerate(classes)}
    hard = np.zeros((len(texts), len(classes)))
    hard[np.arange(len(texts)), [index[it.label] for it in train]] = 1.0
    mixed = np.zeros((len(s_texts), len(classes)))
    for j, c in enumerate(s_classes):
        mixed[:, index[c]] = s_targets[:, j]
    return model.fit(texts + s_texts, None, soft_targets=np.vstack([hard, mixed]), classes=classes)


def retrain(settings: Settings, taxonomy: Taxonomy, original: list[Item], corrections: list[Item], *,
            holdout: list[Item] | None = None, holdout_fraction: float = 0.2, seed: int = 0,
            params: dict[str, Any] | None = None, tolerance: float = 0.0, promote: bool = True,
            soft: tuple[list[str], np.ndarray, list[str]] | None = None, progress: bool = False,
            build_index: bool = True) -> RetrainOutcome:
    """Train a candidate, compare it with the active model on held-out items, maybe promote it.

    Args:
        settings: instance (registry location) and the active model.
        taxonomy: labels of ``original`` and ``corrections`` must already be its categories.
        original: the original labelled data.
        corrections: agents' corrections (later ones win over original rows with the same text).
        holdout: explicit held-out items; default: a seeded stratified share of all data.
        tolerance: promote if candidate accuracy >= current accuracy - tolerance.
        promote: False = evaluate only (dry run).
        soft: optional LLM soft labels ``(texts, targets, classes)`` for distillation.
        build_index: save a retrieval index of all labelled items (original + corrections)
            beside a promoted model.
    """
    by_text = {it.text: it for it in original}
    by_text.update({it.text: it for it in corrections})  # the agent's label wins
    data = list(by_text.values())
    if holdout is None:
        train, holdout = stratified_split(data, holdout_fraction, seed)
    else:
        held = {it.text for it in holdout}
        train = [it for it in data if it.text not in held]
    candidate = train_candidate(train, taxonomy, params, soft)
    current_dir = registry.active_model_dir(settings)
    current = load_fallback(current_dir)
    prices = Prices(0.0, 0.0)
    cand_preds = predict(holdout, _pipeline_classify(settings, taxonomy, candidate), progress=progress,
                         desc="candidate")
    cur_preds = predict(holdout, _pipeline_classify(settings, taxonomy, current), progress=progress, desc="current")
    cand_s, cur_s = summarize(cand_preds, taxonomy, prices), summarize(cur_preds, taxonomy, prices)
    test = mcnemar([p.correct for p in cand_preds], [p.correct for p in cur_preds])
    ok = cand_s["accuracy"] >= cur_s["accuracy"] - tolerance
    reason = (f"candidate accuracy {cand_s['accuracy']:.2%} vs current {cur_s['accuracy']:.2%} on "
              f"{len(holdout)} held-out items (McNemar p={test.p_exact:.3g}); "
              + ("not worse: promote" if ok else "worse: keep the current model"))
    model_dir = index_dir = None
    n_index = 0
    if ok and promote:
        saved = _save(settings, candidate, train, cand_s)
        model_dir = str(saved)
        if build_index:  # before the switch, so the new model never runs without its examples
            index = build_retrieval_index(data)
            index_dir, n_index = str(index.save(saved / INDEX_SUBDIR)), len(index)
        registry.promote(settings, saved.name, {"holdout_accuracy": cand_s["accuracy"],
                                                "holdout_macro_f1": cand_s["macro_f1"]})
    return RetrainOutcome(ok and promote, reason, candidate.version, str(getattr(current, "version", "")),
                          cand_s, cur_s, test, len(train), len(holdout), len(corrections), model_dir,
                          index_dir, n_index)


def build_retrieval_index(items: list[Item]):
    """The few-shot index over labelled items (texts are normalised and redacted when indexed)."""
    from .retrieval import RetrievalIndex

    return RetrievalIndex.build([it.text for it in items], [it.label for it in items])


def _save(settings: Settings, model, train: list[Item], summary: dict[str, Any]) -> Path:
    out = registry.registry_dir(settings) / model.version
    model.save(out, {"holdout_accuracy": summary["accuracy"], "holdout_macro_f1": summary["macro_f1"],
                     "n_train": len(train)})
    counts = Counter(it.label for it in train)
    total = sum(counts.values())
    (out / DISTRIBUTION_FILE).write_text(json.dumps({k: v / total for k, v in sorted(counts.items())},
                                                    indent=2) + "\n", "utf-8")
    return out
