"""Write the fallback model as a CoreML ``.mlpackage`` (ML program), built with the MIL builder.

The MIL builder needs no torch and no macOS: the package is assembled and saved on Linux. CoreML
*prediction* only runs on macOS, so the tests check the package's interface here and check the
numbers with ``graph.run_graph``, which performs the same ops on the same weights.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np

from .graph import GraphWeights

INPUT_NAME = "ids"
OUTPUT_NAME = "probabilities"

# coremltools logs "Failed to load _MLModelProxy" on Linux at import; that is expected there.
logging.getLogger("coremltools").setLevel(logging.ERROR)


def build_coreml(w: GraphWeights, max_len: int, classes: list[str], version: str):
    """Build the ``MLModel`` (fp32 compute, iOS 15+) for float32 graph weights."""
    import coremltools as ct
    from coremltools.converters.mil import Builder as mb
    from coremltools.converters.mil.mil import types

    if w.embedding is None:
        raise ValueError("CoreML export takes the float32 weights (use CoreML's own compression)")

    @mb.program(input_specs=[mb.TensorSpec(shape=(1, max_len), dtype=types.int32)],
                opset_version=ct.target.iOS15)
    def program(ids):  # the argument name becomes the input name, INPUT_NAME
        rows = mb.gather(x=w.embedding, indices=ids, axis=0)
        summed = mb.reduce_sum(x=rows, axes=[1], keep_dims=False)
        mask = mb.not_equal(x=ids, y=np.int32(0))
        count = mb.reduce_sum(x=mb.cast(x=mask, dtype="fp32"), axes=[1], keep_dims=True)
        divisor = mb.maximum(x=count, y=np.float32(1.0))
        if w.pooling == "sqrtn":
            divisor = mb.sqrt(x=divisor)
        h = mb.real_div(x=summed, y=divisor)
        if w.w1 is not None:
            h = mb.relu(x=mb.linear(x=h, weight=w.w1, bias=w.b1))
        logits = mb.linear(x=h, weight=w.w2, bias=w.b2)
        return mb.softmax(x=logits, axis=-1, name=OUTPUT_NAME)

    model = ct.convert(program, convert_to="mlprogram", minimum_deployment_target=ct.target.iOS15,
                       compute_precision=ct.precision.FLOAT32)
    model.short_description = "helpdesk-triage offline fallback classifier"
    model.version = version
    model.user_defined_metadata["classes"] = "\n".join(classes)
    model.user_defined_metadata["featurizer"] = "hashbag-v1"
    return model


def write_coreml(path: str | Path, w: GraphWeights, max_len: int, classes: list[str],
                 version: str) -> Path:
    p = Path(path)
    if p.exists():
        shutil.rmtree(p)
    build_coreml(w, max_len, classes, version).save(str(p))
    return p
