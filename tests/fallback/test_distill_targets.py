"""What distillation hands the student: targets and weights of the labelled rows, their rewrites and
unlabelled text (no encoder needed: a teacher with fixed answers, a student that records its fit)."""

from __future__ import annotations

import numpy as np
import pytest

from tflite_fallback.distill import DistillConfig, distill

CLASSES = ["billing", "other", "refund"]
# the teacher's answer for every text: mostly `other`, as it often is for a cropped in-scope ticket
TEACHER_ROW = np.array([0.2, 0.7, 0.1])


class FixedTeacher:
    classes_ = CLASSES

    class encoder:  # noqa: N801 - mirrors the teacher's attribute
        @staticmethod
        def encode(texts):  # a text's "embedding": its length and word count
            return np.array([[len(t), len(t.split()), 1.0, 0.0] for t in texts], np.float32)

    def predict_proba(self, texts, embeddings=None):
        return np.tile(TEACHER_ROW, (len(texts), 1))


class RecordingStudent:
    def fit(self, texts, *, soft_targets, classes, sample_weight, embedding_targets, progress):
        self.texts, self.targets, self.classes, self.weights = list(texts), soft_targets, classes, sample_weight
        self.embeddings = embedding_targets
        return self


TEXTS = ["I was charged twice for the same order", "turn the lights off in the kitchen please",
         "please send my money back for the broken kettle"]
LABELS = ["billing", "other", "refund"]


def run(**kw) -> RecordingStudent:
    return distill(TEXTS, LABELS, FixedTeacher(), student=RecordingStudent(),
                   config=DistillConfig(variants_per_text=2, folds=1, seed=0), **kw)


def test_rewrites_of_in_scope_rows_get_no_out_of_scope_mass():
    s = run(out_of_scope="other", unlabelled=["what is the weather"])
    assert s.texts[:3] == TEXTS and len(s.texts) == 3 + 6 + 1
    variants, unlabelled = s.targets[3:9], s.targets[9]
    source = [0, 0, 1, 1, 2, 2]  # two rewrites per labelled row, in order
    for row, src in zip(variants, source):
        np.testing.assert_allclose(row.sum(), 1.0)
        if LABELS[src] == "other":
            np.testing.assert_allclose(row, TEACHER_ROW)  # an off-topic row's rewrite stays the teacher's
        else:
            assert row[1] == 0.0
            np.testing.assert_allclose(row[[0, 2]], TEACHER_ROW[[0, 2]] / TEACHER_ROW[[0, 2]].sum())
    np.testing.assert_allclose(unlabelled, TEACHER_ROW)  # unlabelled text: nothing known, the teacher's row
    # the labelled rows: 50/50 teacher and gold
    np.testing.assert_allclose(s.targets[0], 0.5 * TEACHER_ROW + 0.5 * np.eye(3)[0])


def test_without_out_of_scope_every_extra_row_is_the_teachers():
    s = run()
    np.testing.assert_allclose(s.targets[3:], np.tile(TEACHER_ROW, (6, 1)))


def test_rewrites_weigh_as_their_source():
    s = run(sample_weight=[1.0, 3.0, 0.5], unlabelled=["x y z"])
    np.testing.assert_allclose(s.weights, [1.0, 3.0, 0.5, 1.0, 1.0, 3.0, 3.0, 0.5, 0.5, 1.0])
    with pytest.raises(ValueError, match="sample_weight"):
        run(sample_weight=[1.0, 2.0])


def test_the_student_is_also_taught_the_encoders_embedding_of_every_text():
    s = run(unlabelled=["what is the weather"])
    np.testing.assert_array_equal(s.embeddings, FixedTeacher.encoder.encode(s.texts))
    given = np.full((3, 4), 7.0, np.float32)  # the caller's embeddings of the labelled texts are used as given
    s = run(embeddings=given)
    np.testing.assert_array_equal(s.embeddings[:3], given)
    np.testing.assert_array_equal(s.embeddings[3:], FixedTeacher.encoder.encode(s.texts[3:]))


def test_a_rewrite_the_teacher_finds_wholly_out_of_scope_keeps_its_source_label():
    class OnlyOther(FixedTeacher):
        def predict_proba(self, texts, embeddings=None):
            return np.tile([0.0, 1.0, 0.0], (len(texts), 1))

    s = distill(TEXTS, LABELS, OnlyOther(), student=RecordingStudent(), out_of_scope="other",
                config=DistillConfig(variants_per_text=1, folds=1, seed=0))
    np.testing.assert_allclose(s.targets[3:], np.eye(3)[[0, 1, 2]])
