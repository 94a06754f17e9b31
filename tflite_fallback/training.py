"""Train a fallback model from a labelled file or from a teacher's soft labels (distillation).

Soft-label JSONL (what ``triage label`` writes), one object per line, any of:

* ``{"text": ..., "probabilities": {"billing": 0.7, "refund": 0.2, ...}}`` — a distribution;
* ``{"text": ..., "label": "billing", "score": 0.8}`` — the teacher's top label and its score;
  the remaining mass is spread evenly over the other classes.

Rows may carry both; ``probabilities`` wins. The student learns the teacher's whole distribution
(Hinton et al. 2015), which carries more signal per ticket than the arg-max alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from plugin.datasets import load_labelled, map_to_taxonomy
from plugin.taxonomy import Taxonomy

from .distill import DistillConfig, distill
from .encoder_model import EncoderClassifier
from .model import HashBagClassifier
from .teacher import read_texts


def read_soft_labels(path: str | Path, classes: Sequence[str] | None = None
                     ) -> tuple[list[str], np.ndarray, list[str]]:
    """Read a soft-label JSONL file.

    Args:
        path: the JSONL file.
        classes: column order; default: every label seen, in first-seen order.

    Returns:
        (texts, targets ``[n, len(classes)]``, classes)
    """
    rows = []
    for n, line in enumerate(Path(path).read_text("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{n}: invalid JSON: {exc}") from exc
        if not isinstance(row.get("text"), str) or not (row.get("probabilities") or row.get("label")):
            raise ValueError(f"{path}:{n}: need `text` and `probabilities` or `label`")
        rows.append(row)
    if classes is None:
        seen: dict[str, None] = {}
        for row in rows:
            for name in (row.get("probabilities") or {}):
                seen.setdefault(name)
            if row.get("label"):
                seen.setdefault(row["label"])
        classes = list(seen)
    classes = list(classes)
    index = {c: i for i, c in enumerate(classes)}
    targets = np.zeros((len(rows), len(classes)))
    for i, row in enumerate(rows):
        probs = row.get("probabilities")
        if probs:
            for name, p in probs.items():
                if name in index:
                    targets[i, index[name]] = float(p)
        else:
            if row["label"] not in index:
                raise ValueError(f"{path}: row {i + 1}: label {row['label']!r} is not a class {classes}")
            score = float(row.get("score", 1.0))
            rest = (1.0 - score) / max(1, len(classes) - 1)
            targets[i] = rest
            targets[i, index[row["label"]]] = score
        total = targets[i].sum()
        if total <= 0:
            raise ValueError(f"{path}: row {i + 1} has no probability on any class")
        targets[i] /= total
    return [r["text"] for r in rows], targets, classes


def train_from_file(data: str | Path | None, out: str | Path, *, text_col: str | None = None,
                    label_col: str | None = None, taxonomy: Taxonomy | None = None,
                    soft: str | Path | None = None, soft_weight: float = 1.0,
                    params: dict | None = None, progress=None, tier: str = "student",
                    teacher: str | None = None, unlabelled: str | Path | None = None,
                    distill_config: DistillConfig | None = None) -> tuple[HashBagClassifier | EncoderClassifier, dict]:
    """Train from hard labels (``data``), soft labels (``soft``) or both, and save to ``out``.

    With a taxonomy, dataset labels are mapped through its ``source_labels`` and the classes follow
    the taxonomy's order. Rows present in both files (same text) get the mixed target
    ``soft_weight * soft + (1 - soft_weight) * hard``.

    ``tier="server"`` trains the sentence-encoder model instead of the student. ``teacher`` (a
    server-tier model directory, or ``"minilm"`` to fit one on ``data`` first) distils it into the
    student, with ``unlabelled`` texts (a file :func:`~tflite_fallback.teacher.read_texts` reads)
    labelled by the teacher as extra rows.

    Returns:
        (model, metrics) where metrics are measured on the held-out calibration rows (before the
        final refit on all rows, so they are honest).
    """
    texts: list[str] = []
    labels: list[str] = []
    if data is not None:
        items = load_labelled(data, text_col, label_col)
        if taxonomy is not None:
            items = map_to_taxonomy(items, taxonomy)
        texts, labels = [it.text for it in items], [it.label for it in items]
    classes: list[str] | None = None
    if taxonomy is not None:
        classes = taxonomy.names if soft else [n for n in taxonomy.names if n in set(labels)]
    if "novelty_reject" in (params or {}) and tier != "server":
        raise ValueError("--novelty-reject sets the server tier's novelty gate: it needs --tier server")
    if tier == "server" or teacher is not None:
        if soft is not None:
            raise ValueError("--soft (LLM soft labels) trains the student directly; it does not mix with "
                             "--tier server or --teacher")
        if not texts:
            raise ValueError("no training rows")
        return _train_with_encoder(texts, labels, out, classes, params or {}, progress, tier, teacher,
                                   unlabelled, distill_config or DistillConfig(seed=(params or {}).get("seed", 0)),
                                   out_of_scope=taxonomy.other if taxonomy is not None else None)
    if (params or {}).get("embedding_weight"):
        raise ValueError("--embedding-weight matches a teacher's embeddings: it needs --teacher")
    model = HashBagClassifier(**(params or {}))
    if soft is None:
        if not texts:
            raise ValueError("no training rows")
        model.fit(texts, labels, classes=classes, progress=progress)
    else:
        s_texts, s_targets, s_classes = read_soft_labels(soft, classes)
        hard = {t: lab for t, lab in zip(texts, labels)}
        extra = sorted(set(labels) - set(s_classes))
        if extra:
            raise ValueError(f"hard labels missing from the soft-label classes: {extra[:5]}")
        if hard:
            # Hard rows without a soft row become one-hot soft rows; soft rows with a hard label mix.
            idx = {c: i for i, c in enumerate(s_classes)}
            seen = set(s_texts)
            for t, lab in hard.items():
                if t not in seen:
                    s_texts.append(t)
                    row = np.zeros(len(s_classes))
                    row[idx[lab]] = 1.0
                    s_targets = np.vstack([s_targets, row])
            for i, t in enumerate(s_texts):
                if t in hard and t in seen:
                    onehot = np.zeros(len(s_classes))
                    onehot[idx[hard[t]]] = 1.0
                    s_targets[i] = soft_weight * s_targets[i] + (1 - soft_weight) * onehot
        model.fit(s_texts, soft_targets=s_targets, classes=s_classes, progress=progress)
    metrics = {f"held_out_{k}": v for k, v in model.held_out_.items()}
    model.save(out, metrics)
    return model, metrics


def _train_with_encoder(texts: list[str], labels: list[str], out: str | Path, classes: list[str] | None,
                        params: dict, progress, tier: str, teacher: str | None, unlabelled: str | Path | None,
                        config: DistillConfig, out_of_scope: str | None = None
                        ) -> tuple[HashBagClassifier | EncoderClassifier, dict]:
    """The server tier on its own, or as the teacher of a distilled student (``out_of_scope``:
    the taxonomy's catch-all class, see :func:`~tflite_fallback.distill.distill`)."""
    seed = params.get("seed", 0)
    if tier == "server":
        student_only = sorted(set(params) - {"seed", "novelty_reject"})
        if student_only:
            raise ValueError(f"{student_only} are options of the student model, not of --tier server")
        model = EncoderClassifier(**params).fit(texts, labels, classes=classes, out_of_scope=out_of_scope,
                                                progress=progress)
        metrics = {f"held_out_{k}": v for k, v in model.held_out_.items()}
        model.save(out, metrics)
        return model, metrics
    teacher_model = EncoderClassifier(seed=seed) if teacher == "minilm" else EncoderClassifier.load(teacher)
    embeddings = teacher_model.embed(texts)  # once: both the teacher's fit and distillation need them
    if teacher == "minilm":
        teacher_model.fit(texts, labels, classes=classes, embeddings=embeddings, out_of_scope=out_of_scope)
    extra = read_texts(unlabelled) if unlabelled else []
    student = distill(texts, labels, teacher_model, student=HashBagClassifier(**params), unlabelled=extra,
                      config=config, embeddings=embeddings, out_of_scope=out_of_scope,
                      progress=None if progress is None else (lambda _stage, done, total: progress(done, total)))
    metrics = {f"held_out_{k}": v for k, v in student.held_out_.items()}
    metrics["teacher"] = {"version": teacher_model.version, **teacher_model.held_out_}
    metrics["distill"] = {"variants_per_text": config.variants_per_text, "soft_weight": config.soft_weight,
                          "folds": config.folds, "unlabelled": len(extra)}
    student.save(out, metrics)
    return student, metrics
