"""Exports: LiteRT runs the .tflite and matches the reference; CoreML's interface is right."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from plugin.fallback import model_path
from tflite_fallback.export import export_model
from tflite_fallback.export_tflite import run_tflite
from tflite_fallback.graph import dequantized_model, graph_weights, quantize_rows, run_graph
from tflite_fallback.model import HashBagClassifier
from tflite_fallback.vectors import load_vectors

pytest.importorskip("ai_edge_litert.interpreter")


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """The bundled model exported in all formats into a temp dir (the repo is not touched)."""
    out = tmp_path_factory.mktemp("export")
    export_model(model_path(), "all", out)
    return out


@pytest.fixture(scope="module")
def model() -> HashBagClassifier:
    return HashBagClassifier.load(model_path())


@pytest.fixture(scope="module")
def cases(exported) -> tuple[np.ndarray, np.ndarray, dict]:
    vec = load_vectors(exported / "vectors.json")
    max_len = vec["featurizer"]["max_len"]
    ids = np.zeros((len(vec["cases"]), max_len), np.int32)
    for row, case in enumerate(vec["cases"]):
        ids[row, : len(case["ids"])] = case["ids"]
    return ids, np.array([c["probabilities"] for c in vec["cases"]]), vec


def test_tflite_fp32_matches_reference_in_litert(exported, cases) -> None:
    ids, expected, _ = cases
    got = run_tflite(exported / "model.tflite", ids)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


def test_tflite_interface(exported, model) -> None:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(exported / "model.tflite"))
    interp.allocate_tensors()
    (inp,), (out,) = interp.get_input_details(), interp.get_output_details()
    assert inp["name"] == "ids" and inp["dtype"] == np.int32 and list(inp["shape"]) == [1, model.max_len]
    assert out["name"] == "probabilities" and list(out["shape"]) == [1, len(model.classes_)]
    assert (exported / "labels.txt").read_text().split() == model.classes_


def test_padding_contributes_nothing(exported, model) -> None:
    """Mean over real ids only: [a, 0, 0, ...] must equal [a, a, 0, ...] and [a, 0, a, 0, ...]."""
    a = model.featurizer.ids("refund")[0]
    x = np.zeros((3, model.max_len), np.int32)
    x[0, 0] = a
    x[1, :2] = a
    x[2, [0, 2]] = a
    got = run_tflite(exported / "model.tflite", x)
    np.testing.assert_allclose(got[0], got[1], atol=1e-7)
    np.testing.assert_allclose(got[0], got[2], atol=1e-7)
    np.testing.assert_allclose(got[0], model.predict_proba_ids(x[:1])[0], atol=1e-5)
    empty = np.zeros((1, model.max_len), np.int32)
    np.testing.assert_allclose(run_tflite(exported / "model.tflite", empty)[0],
                               model.predict_proba([""])[0], atol=1e-5)


def test_int8_tflite_matches_its_reference_and_stays_close(exported, model, cases) -> None:
    ids, expected, _ = cases
    got = run_tflite(exported / "model_int8.tflite", ids)
    np.testing.assert_allclose(got, dequantized_model(model).predict_proba_ids(ids), atol=1e-5, rtol=0)
    assert np.abs(got - expected).max() < 0.05
    assert (got.argmax(1) == expected.argmax(1)).mean() >= 0.9
    assert (exported / "model_int8.tflite").stat().st_size < 0.4 * (exported / "model.tflite").stat().st_size


def test_quantize_rows_roundtrip() -> None:
    table = np.random.default_rng(0).normal(size=(50, 8)).astype(np.float32)
    table[0] = 0
    q, s = quantize_rows(table)
    assert q.dtype == np.int8 and s[0, 0] == 0
    assert np.abs(q * s - table).max() <= s.max() / 2 + 1e-7


def test_numpy_graph_matches_reference(model, cases) -> None:
    ids, expected, _ = cases
    np.testing.assert_allclose(run_graph(graph_weights(model), ids), expected, atol=1e-5, rtol=0)


def test_coreml_package_interface(exported, model) -> None:
    ct = pytest.importorskip("coremltools")
    mlmodel = ct.models.MLModel(str(exported / "model.mlpackage"), skip_model_load=True)
    desc = mlmodel.get_spec().description
    (inp,), (out,) = desc.input, desc.output
    int32 = ct.proto.FeatureTypes_pb2.ArrayFeatureType.INT32
    fp32 = ct.proto.FeatureTypes_pb2.ArrayFeatureType.FLOAT32
    assert inp.name == "ids" and inp.type.multiArrayType.dataType == int32
    assert list(inp.type.multiArrayType.shape) == [1, model.max_len]
    assert out.name == "probabilities" and out.type.multiArrayType.dataType == fp32
    assert list(out.type.multiArrayType.shape) == [1, len(model.classes_)]
    assert mlmodel.user_defined_metadata["classes"].split("\n") == model.classes_
    assert mlmodel.version == model.version


def test_manifest(exported, model) -> None:
    manifest = json.loads((exported / "export.json").read_text())
    assert manifest["model_version"] == model.version
    assert manifest["max_abs_diff"]["tflite_vs_reference"] < 1e-5
    assert set(manifest["files"]) == {"model.tflite", "model_int8.tflite", "model.mlpackage"}


def test_hidden_layer_and_sqrtn_export_parity(tmp_path, small_split) -> None:
    train, test = small_split
    m = HashBagClassifier(n_buckets=1 << 10, dim=8, hidden=16, pooling="sqrtn", epochs=3, max_len=64)
    m.fit([i.text for i in train[:300]], [i.label for i in train[:300]])
    m.save(tmp_path / "m")
    export_model(tmp_path / "m", "tflite")
    texts = [i.text for i in test[:20]] + ["", "📦"]
    got = run_tflite(tmp_path / "m" / "model.tflite", m.featurizer.transform(texts))
    np.testing.assert_allclose(got, m.predict_proba(texts), atol=1e-5, rtol=0)
    shutil.rmtree(tmp_path / "m")
