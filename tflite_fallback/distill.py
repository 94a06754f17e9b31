"""Distil the server tier (sentence encoder + head) into the on-device student.

The student (hashed n-gram bag, <= 5 MB) cannot know that "top up" means "add money" unless an
example says so. The teacher does, so it writes the examples: every training text, seeded
variants of it (word dropout, crops, swaps: new n-gram combinations with the teacher's view of what
they mean) and any unlabelled in-domain text get the teacher's probability row, and the student is
trained on those distributions (Hinton et al. 2015) mixed with the gold labels. The student's
pooled embedding is also trained to predict the encoder's sentence embedding of every one of those
texts (where it lies on the axes that best separate the classes, through a linear map used in
training only, as DistilBERT and TinyBERT match hidden states;
``HashBagClassifier.fit(embedding_targets=...)``): those coordinates say how near a text is to every
class, graded, where a probability row is near one-hot. It is on when the student's
``embedding_weight`` is set (``triage train --embedding-weight``): on BANKING77 validation weight 4
lifted the student by 0.5 points (92.3 vs 91.8 %, mean of 3 seeds), on HWU64 it cost 0.4 (90.5 vs
90.9 %), where the encoder itself is weaker than n-grams (docs/fallback.md), so it is off by default.

The teacher's rows for the training texts are *out-of-fold*: K teachers of the same recipe, each
trained without one fold, label the fold they did not see. A teacher asked about its own training
rows answers near one-hot, which is no more than the gold label; out-of-fold rows carry the
similarity structure between classes that the student is meant to learn. The encoder runs once
per text; only the heads (and the tier's n-gram bags) are refitted.

A rewrite of an in-scope ticket is still in scope: a crop or a word dropout can remove the words
that made the topic plain, and the teacher then puts mass on the out-of-scope class. Learnt as is,
that teaches the student that in-scope prose looks off-topic (on the bundled model it raised the
`other` rate on real long tickets from 7 to 19 %), so with ``out_of_scope`` set, the variants of
rows labelled anything else keep the teacher's split over the in-scope classes only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .encoder_model import EncoderClassifier
from .model import HashBagClassifier


@dataclass(frozen=True)
class DistillConfig:
    """How many extra rows the teacher writes, and how much its view weighs against gold labels."""

    variants_per_text: int = 2  # augmented copies of each labelled text
    soft_weight: float = 0.5  # labelled rows: target = w * teacher + (1 - w) * one-hot
    folds: int = 5  # out-of-fold teacher rows for the labelled texts
    seed: int = 0


def variants(text: str, n: int, rng: random.Random) -> list[str]:
    """``n`` seeded rewrites of ``text``: drop ~15 % of words, crop an end, or swap a neighbour pair."""
    words = text.split()
    out: list[str] = []
    for _ in range(n):
        if len(words) < 3:
            out.append(text)
            continue
        kind = rng.randrange(3)
        if kind == 0:
            kept = [w for w in words if rng.random() >= 0.15] or words[:1]
        elif kind == 1:
            cut = rng.randint(1, max(1, len(words) // 4))
            kept = words[cut:] if rng.random() < 0.5 else words[:-cut]
        else:
            kept = list(words)
            i = rng.randrange(len(kept) - 1)
            kept[i], kept[i + 1] = kept[i + 1], kept[i]
        out.append(" ".join(kept))
    return out


def out_of_fold_probabilities(teacher: EncoderClassifier, texts: Sequence[str], embeddings: np.ndarray,
                              labels: Sequence[str], folds: int, seed: int,
                              progress: Callable[[int], None] = lambda fold: None) -> np.ndarray:
    """Each labelled row's teacher distribution from a teacher of the same recipe that never saw it."""
    n = len(labels)
    probs = np.zeros((n, len(teacher.classes_)))
    order = np.random.default_rng(seed).permutation(n)
    for f in range(folds):
        held = order[f::folds]
        keep = np.setdiff1d(order, held)
        fold_teacher = EncoderClassifier(**teacher.get_params(), encoder=teacher.encoder)
        fold_teacher.fit([texts[i] for i in keep], [labels[i] for i in keep], classes=teacher.classes_,
                         embeddings=embeddings[keep])
        probs[held] = fold_teacher.predict_proba([texts[i] for i in held], embeddings=embeddings[held])
        progress(f + 1)
    return probs


def distill(texts: Sequence[str], labels: Sequence[str], teacher: EncoderClassifier, *,
            student: HashBagClassifier | None = None, unlabelled: Sequence[str] = (),
            config: DistillConfig = DistillConfig(), embeddings: np.ndarray | None = None,
            sample_weight: Sequence[float] | None = None, out_of_scope: str | None = None,
            progress: Callable[[str, int, int], None] | None = None) -> HashBagClassifier:
    """Train ``student`` (default: a default-sized HashBagClassifier) on the teacher's distributions.

    Args:
        texts, labels: the gold training rows (labels must be among ``teacher.classes_``).
        teacher: a fitted server-tier model.
        unlabelled: extra in-domain texts (e.g. past tickets); the teacher labels them.
        embeddings: the encoder's embeddings of ``texts`` when the caller already has them (it
            just fitted the teacher on them): the encoder is the slow part, so it runs once.
        sample_weight: per labelled row (e.g. class balancing); a variant weighs as its source,
            an unlabelled text 1.
        out_of_scope: the taxonomy's catch-all class (``other``): variants of rows labelled
            anything else get no mass on it (see the module docstring).
        progress: ``progress(stage, done, total)`` for a progress bar.
    """
    classes = teacher.classes_
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({lab for lab in labels if lab not in index})
    if unknown:
        raise ValueError(f"labels the teacher does not know: {unknown[:5]}")
    report = progress or (lambda stage, done, total: None)
    rng = random.Random(config.seed)
    rewrites = [variants(t, config.variants_per_text, rng) for t in texts]
    source = np.array([i for i, vs in enumerate(rewrites) for _ in vs], dtype=np.int64)
    extra = [v for vs in rewrites for v in vs] + list(unlabelled)
    weights = np.ones(len(texts)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    if len(weights) != len(texts):
        raise ValueError(f"sample_weight has {len(weights)} rows for {len(texts)} texts")
    texts = list(texts)
    report("teacher", 0, len(texts) + len(extra))
    emb = teacher.encoder.encode(texts) if embeddings is None else np.asarray(embeddings, np.float32)
    extra_emb = teacher.encoder.encode(extra) if extra else np.zeros((0, emb.shape[1]), np.float32)
    gold = np.zeros((len(texts), len(classes)))
    gold[np.arange(len(texts)), [index[lab] for lab in labels]] = 1.0
    if config.folds > 1 and len(texts) >= 5 * config.folds:
        soft = out_of_fold_probabilities(
            teacher, texts, emb, labels, config.folds, config.seed,
            lambda fold: report("teacher", fold * len(texts) // config.folds, len(texts) + len(extra)))
    else:
        soft = teacher.predict_proba(texts, embeddings=emb)
    targets = [config.soft_weight * soft + (1.0 - config.soft_weight) * gold]
    if extra:
        extra_soft = teacher.predict_proba(extra, embeddings=extra_emb)
        if out_of_scope in index:
            in_scope = np.zeros(len(extra), dtype=bool)
            in_scope[: len(source)] = [labels[i] != out_of_scope for i in source]
            extra_soft[in_scope, index[out_of_scope]] = 0.0
            mass = extra_soft.sum(axis=1)
            lost = in_scope & (mass < 1e-6)  # the teacher saw nothing in scope: keep the source's label
            extra_soft[lost] = gold[source[lost[: len(source)]]]
            extra_soft[in_scope & ~lost] /= mass[in_scope & ~lost, None]
        targets.append(extra_soft)
    report("teacher", len(texts) + len(extra), len(texts) + len(extra))
    all_weights = np.concatenate([weights, weights[source], np.ones(len(extra) - len(source))])
    model = student or HashBagClassifier(seed=config.seed)
    model.fit(texts + extra, soft_targets=np.vstack(targets), classes=classes, sample_weight=all_weights,
              embedding_targets=np.vstack([emb, extra_emb]),
              progress=lambda step, total: report("student", step, total))
    return model
