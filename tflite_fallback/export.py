"""Export a trained model directory for phones and prove the exports agree with the reference.

``export_model`` writes, next to the model: ``model.tflite`` (fp32), ``model_int8.tflite`` (int8
per-row embedding table), ``model.mlpackage`` (CoreML), ``labels.txt`` (``classes_`` order),
``vectors.json`` (test vectors from the Python reference) and ``export.json`` (spec version,
model version, input/output contract and the measured parity). Export fails if the fp32 TFLite
file does not reproduce the reference within ``FP32_TOLERANCE``, so a broken file never ships.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .featurizer import SPEC_VERSION
from .graph import dequantized_model, graph_weights, run_graph
from .model import HashBagClassifier
from .saved_model import LABELS_FILE
from .vectors import VECTORS_FILE, build_vectors, write_vectors

FORMATS = ("tflite", "coreml", "all")
FP32_TOLERANCE = 1e-5
TFLITE_FILE = "model.tflite"
TFLITE_INT8_FILE = "model_int8.tflite"
COREML_FILE = "model.mlpackage"
MANIFEST_FILE = "export.json"


class ExportError(RuntimeError):
    """An exported file disagrees with the Python reference."""


def export_model(model_dir: str | Path, fmt: str = "all", out_dir: str | Path | None = None) -> dict:
    """Export ``model_dir`` in ``fmt`` (tflite | coreml | all); returns the manifest written.

    Raises:
        ExportError: the fp32 TFLite output differs from the reference by more than 1e-5.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")
    src = Path(model_dir)
    out = Path(out_dir) if out_dir else src
    out.mkdir(parents=True, exist_ok=True)
    model = HashBagClassifier.load(src)
    vectors = build_vectors(model.featurizer.ids, model.predict_proba, model.classes_,
                            model.featurizer.to_dict(), model.version)
    write_vectors(out / VECTORS_FILE, vectors)
    (out / LABELS_FILE).write_text("\n".join(model.classes_) + "\n", "utf-8")
    ids = model.featurizer.transform([c["text"] for c in vectors["cases"]])
    expected = np.array([c["probabilities"] for c in vectors["cases"]])
    manifest: dict = {
        "spec_version": SPEC_VERSION, "model_version": model.version, "classes": model.classes_,
        "input": {"name": "ids", "dtype": "int32", "shape": [1, model.max_len]},
        "output": {"name": "probabilities", "dtype": "float32", "shape": [1, len(model.classes_)]},
        "files": {}, "max_abs_diff": {},
    }
    if fmt in ("tflite", "all"):
        from .export_tflite import run_tflite, write_tflite

        fp32 = write_tflite(out / TFLITE_FILE, graph_weights(model), model.max_len,
                            f"helpdesk-triage fallback {model.version} ({SPEC_VERSION})")
        diff = float(np.abs(run_tflite(fp32, ids) - expected).max())
        if diff > FP32_TOLERANCE:
            raise ExportError(f"{fp32}: LiteRT differs from the reference by {diff:.2e}")
        int8 = write_tflite(out / TFLITE_INT8_FILE, graph_weights(model, int8=True), model.max_len,
                            f"helpdesk-triage fallback {model.version} int8 ({SPEC_VERSION})")
        int8_ref = dequantized_model(model).predict_proba_ids(ids)
        manifest["files"].update({TFLITE_FILE: fp32.stat().st_size, TFLITE_INT8_FILE: int8.stat().st_size})
        manifest["max_abs_diff"].update({
            "tflite_vs_reference": diff,
            "tflite_int8_vs_int8_reference": float(np.abs(run_tflite(int8, ids) - int8_ref).max()),
            "int8_vs_fp32_reference": float(np.abs(int8_ref - expected).max()),
        })
    if fmt in ("coreml", "all"):
        from .export_coreml import write_coreml

        pkg = write_coreml(out / COREML_FILE, graph_weights(model), model.max_len, model.classes_,
                           model.version)
        size = sum(f.stat().st_size for f in pkg.rglob("*") if f.is_file())
        manifest["files"][COREML_FILE] = size
        manifest["max_abs_diff"]["coreml_graph_numpy_vs_reference"] = float(
            np.abs(run_graph(graph_weights(model), ids) - expected).max())
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    return manifest
