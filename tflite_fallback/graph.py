"""The exported inference graph, as plain float32 numpy, plus int8 per-row quantisation.

``export_tflite`` and ``export_coreml`` build exactly these operations; :func:`run_graph` executes
them here so the numbers of a CoreML package (which only runs on macOS) can still be checked on
Linux from the same weights, and so the int8 variant has a reference to compare against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import HashBagClassifier


@dataclass(frozen=True)
class GraphWeights:
    """Weights as the exported graphs hold them: FC weights ``[out, in]``, temperature folded in.

    ``embedding_q``/``row_scale`` are set for the int8 variant (then ``embedding`` is None).
    """

    embedding: np.ndarray | None
    w1: np.ndarray | None  # [hidden, dim] or None for a linear head
    b1: np.ndarray | None
    w2: np.ndarray  # [classes, in] already divided by the temperature
    b2: np.ndarray
    pooling: str
    embedding_q: np.ndarray | None = None  # int8 [n_buckets, dim]
    row_scale: np.ndarray | None = None  # float32 [n_buckets, 1]

    @property
    def n_buckets(self) -> int:
        table = self.embedding if self.embedding is not None else self.embedding_q
        return int(table.shape[0])


def quantize_rows(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per-row quantisation: ``table ≈ q * scale`` with ``scale = max|row| / 127``.

    The padding row (all zeros) gets scale 0, so it still contributes exactly nothing.
    """
    peak = np.abs(table).max(axis=1, keepdims=True)
    scale = (peak / 127.0).astype(np.float32)
    safe = np.where(scale > 0, scale, 1.0)
    q = np.clip(np.rint(table / safe), -127, 127).astype(np.int8)
    return q, scale


def graph_weights(model: HashBagClassifier, int8: bool = False) -> GraphWeights:
    """Export-ready weights of a trained model (optionally with an int8 embedding table)."""
    t = np.float32(model.temperature_)
    w2 = (model.w2_.T / t).astype(np.float32)
    b2 = (model.b2_ / t).astype(np.float32)
    w1 = model.w1_.T.astype(np.float32).copy() if model.hidden else None
    b1 = model.b1_.astype(np.float32).copy() if model.hidden else None
    if int8:
        q, scale = quantize_rows(model.embedding_)
        return GraphWeights(None, w1, b1, w2, b2, model.pooling, q, scale)
    return GraphWeights(model.embedding_.astype(np.float32), w1, b1, w2, b2, model.pooling)


def dequantized_model(model: HashBagClassifier) -> HashBagClassifier:
    """A copy of ``model`` whose embedding table went through int8 and back (for accuracy checks)."""
    q, scale = quantize_rows(model.embedding_)
    clone = HashBagClassifier(**model.get_params())
    clone.__dict__.update({k: v for k, v in model.__dict__.items() if k.endswith("_")})
    clone.embedding_ = (q.astype(np.float32) * scale).astype(np.float32)
    return clone


def run_graph(w: GraphWeights, ids: np.ndarray) -> np.ndarray:
    """Execute the exported graph on ``ids [batch, max_len]`` in float32, op by op."""
    ids = np.asarray(ids, dtype=np.int32)
    if w.embedding is not None:
        gathered = w.embedding[ids]  # GATHER
    else:
        gathered = w.embedding_q[ids].astype(np.float32) * w.row_scale[ids]  # GATHER, CAST, GATHER, MUL
    summed = gathered.sum(axis=1, dtype=np.float32)  # SUM axis 1
    count = (ids != 0).astype(np.float32).sum(axis=1, keepdims=True)  # NOT_EQUAL, CAST, SUM
    count = np.maximum(count, np.float32(1.0))  # MAXIMUM
    if w.pooling == "sqrtn":
        count = np.sqrt(count)  # SQRT
    h = summed / count  # DIV
    if w.w1 is not None:
        h = np.maximum(h @ w.w1.T + w.b1, np.float32(0.0))  # FULLY_CONNECTED + RELU
    logits = h @ w.w2.T + w.b2  # FULLY_CONNECTED
    z = logits - logits.max(axis=1, keepdims=True)  # SOFTMAX
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
