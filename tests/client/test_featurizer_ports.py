"""The phone featurizers (Java for Android, Swift for iOS) equal the Python reference on every vector."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "tflite_fallback"
VECTORS = ROOT / "models" / "default" / "vectors.json"
JAVA_SRC = [ROOT / "android/src/main/java/com/helpdesktriage/fallback/Featurizer.java",
            ROOT / "android/src/test/java/com/helpdesktriage/fallback/FeaturizerVectors.java"]
SWIFT_SRC = [ROOT / "ios/Featurizer.swift", ROOT / "ios/FeaturizerVectors/main.swift"]


def _vectors() -> dict:
    return json.loads(VECTORS.read_text("utf-8"))


def _texts(vectors: dict) -> list[str]:
    return [c["text"] for c in vectors["cases"]] + list(vectors["fnv1a_32"])


def _args(vectors: dict) -> list[str]:
    f = vectors["featurizer"]
    return [str(f["n_buckets"]), str(f["max_len"]), str(f["char_ngrams"][0]), str(f["char_ngrams"][1]),
            "true" if f["word_bigrams"] else "false"]


def _compare(vectors: dict, output: str) -> None:
    """Check each case step by step so a mismatch names the step that differs."""
    lines = output.split("\n")
    texts = _texts(vectors)
    assert len(lines) >= len(texts), output[-2000:]
    for case, line in zip(vectors["cases"], lines):
        normalized, tokens, ids, _ = line.split("\t")
        where = f"text {case['text']!r}"
        assert bytes.fromhex(normalized).decode() == case["normalized"], f"normalize differs for {where}"
        got_tokens = [bytes.fromhex(t).decode() for t in tokens.split(",")] if tokens else []
        assert got_tokens == case["tokens"], f"tokenize differs for {where}"
        got_ids = [int(i) for i in ids.split(",")] if ids else []
        assert got_ids == case["ids"], f"ids differ for {where}"
    for (text, expected), line in zip(vectors["fnv1a_32"].items(), lines[len(vectors["cases"]):]):
        assert int(line.split("\t")[3]) == expected, f"FNV-1a differs for {text!r}"


def _stdin(vectors: dict) -> str:
    return "".join(t.encode("utf-8").hex() + "\n" for t in _texts(vectors))


def test_vectors_match_python_reference():
    from tflite_fallback.featurizer import Featurizer, normalize, tokenize

    vectors = _vectors()
    f = vectors["featurizer"]
    ref = Featurizer(n_buckets=f["n_buckets"], max_len=f["max_len"], char_ngrams=tuple(f["char_ngrams"]),
                     word_bigrams=f["word_bigrams"])
    assert len(vectors["cases"]) >= 10
    for case in vectors["cases"]:
        assert normalize(case["text"]) == case["normalized"]
        assert tokenize(case["normalized"]) == case["tokens"]
        assert ref.ids(case["text"]) == case["ids"]


def test_java_featurizer_matches_every_vector(tmp_path):
    if not (shutil.which("javac") and shutil.which("java")):
        pytest.skip("no JDK here (javac/java missing); CI installs default-jdk-headless")
    classes = tmp_path / "classes"
    subprocess.run(["javac", "--release", "11", "-Werror", "-d", str(classes), *map(str, JAVA_SRC)],
                   check=True, capture_output=True, text=True)
    vectors = _vectors()
    run = subprocess.run(["java", "-cp", str(classes), "com.helpdesktriage.fallback.FeaturizerVectors",
                          *_args(vectors)], input=_stdin(vectors), capture_output=True, text=True,
                         encoding="utf-8", check=True, timeout=60)
    _compare(vectors, run.stdout)


def test_swift_featurizer_matches_every_vector(tmp_path):
    if not shutil.which("swiftc"):
        pytest.skip("no Swift toolchain here (swiftc missing); run on macOS or a swift.org toolchain — "
                    "see docs/ios.md")
    exe = tmp_path / "featurizer-vectors"
    subprocess.run(["swiftc", "-O", "-o", str(exe), *map(str, SWIFT_SRC)], check=True,
                   capture_output=True, text=True, timeout=300)
    vectors = _vectors()
    run = subprocess.run([str(exe), *_args(vectors)], input=_stdin(vectors), capture_output=True,
                         text=True, encoding="utf-8", check=True, timeout=60)
    _compare(vectors, run.stdout)
