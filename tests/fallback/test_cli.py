"""`triage train` / `triage export` from the command line, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from tflite_fallback.model import HashBagClassifier
from tflite_fallback.training import read_soft_labels


def _triage(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "plugin", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=240)


def test_train_then_export(tmp_path, small_split) -> None:
    train, test = small_split
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"text": i.text, "label": i.label}) + "\n" for i in train[:500]))
    out = tmp_path / "model"
    r = _triage("train", "--data", str(data), "--taxonomy", "default", "--out", str(out),
                "--epochs", "10", "--buckets", "4096", "--seed", "3", "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    m = HashBagClassifier.load(out)
    assert m.seed == 3 and m.n_buckets == 4096
    assert m.classes_ == [n for n in ["billing", "refund", "delivery", "order", "account", "feedback",
                                      "contact", "other"] if n in {i.label for i in train[:500]}]
    assert m.score([i.text for i in test[:200]], [i.label for i in test[:200]]) > 0.7
    r = _triage("export", "--model", str(out), "--format", "tflite", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    manifest = json.loads((out / "export.json").read_text())
    assert manifest["max_abs_diff"]["tflite_vs_reference"] < 1e-5
    assert (out / "model.tflite").exists() and (out / "model_int8.tflite").exists()
    assert not (out / "model.mlpackage").exists()


def test_train_from_soft_labels(tmp_path, small_split) -> None:
    train, _ = small_split
    soft = tmp_path / "soft.jsonl"
    lines = []
    for n, i in enumerate(train[:400]):
        if n % 2:
            lines.append({"text": i.text, "label": i.label, "score": 0.9})
        else:
            lines.append({"text": i.text, "probabilities": {i.label: 0.8, "other": 0.2}})
    soft.write_text("".join(json.dumps(x) + "\n" for x in lines))
    texts, targets, classes = read_soft_labels(soft, ["billing", "refund", "delivery", "order",
                                                      "account", "feedback", "contact", "other"])
    assert targets.shape == (400, 8)
    np.testing.assert_allclose(targets.sum(axis=1), 1.0)
    out = tmp_path / "student"
    r = _triage("train", "--soft", str(soft), "--taxonomy", "default", "--out", str(out),
                "--epochs", "3", "--buckets", "2048", "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert HashBagClassifier.load(out).classes_[-1] == "other"


def test_train_without_data_fails(tmp_path) -> None:
    r = _triage("train", "--out", str(tmp_path / "x"), cwd=tmp_path)
    assert r.returncode != 0


def test_label_writes_teacher_soft_labels(tmp_path, openai_server, small_split) -> None:
    import os

    train, _ = small_split
    data = tmp_path / "tickets.csv"
    data.write_text("text\n" + "".join(f'"{i.text}"\n' for i in train[:6]))
    env = {**os.environ, "TRIAGE_LLM_BASE_URL": openai_server.base_url, "TRIAGE_LLM_MODEL": "sim",
           "TRIAGE_LLM_API_KEY": "test-key", "TRIAGE_INSTANCE_DIR": str(tmp_path / "inst"),
           "TRIAGE_FEWSHOT_K": "0"}
    out = tmp_path / "soft.jsonl"
    r = subprocess.run([sys.executable, "-m", "plugin", "label", "--data", str(data), "--out", str(out),
                        "--quiet"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 6 and len(openai_server.requests) >= 6
    assert {row["classifier"] for row in rows} == {"llm"}
    for row, item in zip(rows, train[:6]):
        assert row["text"] == item.text
        assert row["label"] in row["probabilities"]
        assert all(0.0 <= p <= 1.0 for p in row["probabilities"].values())
    texts, targets, classes = read_soft_labels(out)
    assert len(texts) == 6 and targets.shape[0] == 6


def test_read_soft_labels_rejects_unknown_label(tmp_path) -> None:
    import pytest

    soft = tmp_path / "soft.jsonl"
    soft.write_text(json.dumps({"text": "hi", "label": "nope", "score": 0.9}) + "\n")
    with pytest.raises(ValueError, match="nope"):
        read_soft_labels(soft, ["billing", "other"])
    soft.write_text('{"text": "hi"}\n')
    with pytest.raises(ValueError, match="need `text`"):
        read_soft_labels(soft)
