"""Test vectors: text -> ids -> probabilities, from the Python reference, shipped with each model.

The phone ports (Kotlin/Java, Swift) and the exported TFLite/CoreML graphs must reproduce these
numbers; ``check_vectors`` is what the tests and ``triage export`` use to prove it here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np

from .featurizer import SPEC_VERSION, fnv1a_32, normalize, tokenize

VECTORS_FILE = "vectors.json"

# Inputs chosen to break naive ports: accents (NFC vs NFD), compatibility forms (NFKC: ligatures,
# full-width, superscripts), the one special lowercase mapping (U+0130), emoji and ZWJ sequences,
# CJK without spaces, combining marks, digits of other scripts, control characters, empty and
# whitespace-only text, apostrophes, and a text longer than max_len.
TRICKY_TEXTS: list[str] = [
    "",
    "   \t\n ",
    "I was charged twice for my order",
    "Where is my REFUND?!",
    "Café  REFUND? 📦",  # the worked example in FEATURIZER_SPEC.md
    "Café crème — déjà vu",
    "Cafe\u0301 cre\u0300me",  # decomposed accents: NFKC composes them
    "ﬁnance ＦＵＬＬ－ＷＩＤＴＨ ①②③ x²",
    "İstanbul DİKKAT straße ΣΟΦΟΣ",
    "my parcel 📦 never arrived 😡👍🏽 👨‍👩‍👧",
    "我的订单还没有到 请帮我查一下",
    "注文をキャンセルしたい。",
    "환불 받고 싶어요",
    "मेरा ऑर्डर कहाँ है",
    "Ελληνικά και русский текст",
    "order #12345 costs $99.50 (20% off)",
    "don't can't won't",
    "tab\tseparated\u00a0nbsp\u200bzwsp",
    "٣ ٤٥ arabic-indic digits",
    "a",
    " ".join(["please cancel my subscription and refund the last payment"] * 20),
]


def featurizer_steps(text: str) -> dict:
    """The intermediate results a port can compare step by step."""
    norm = normalize(text)
    return {"normalized": norm, "tokens": tokenize(norm)}


def build_vectors(ids_fn: Callable[[str], list[int]], proba_fn: Callable[[list[str]], np.ndarray],
                  classes: list[str], featurizer: dict, model_version: str,
                  texts: list[str] | None = None) -> dict:
    """Vectors document for one model: every text with its steps, ids and probabilities."""
    texts = TRICKY_TEXTS if texts is None else texts
    probs = proba_fn(texts)
    cases = []
    for text, p in zip(texts, probs):
        case = {"text": text, **featurizer_steps(text), "ids": ids_fn(text),
                "probabilities": [round(float(x), 8) for x in p]}
        cases.append(case)
    return {
        "spec_version": SPEC_VERSION,
        "model_version": model_version,
        "featurizer": featurizer,
        "classes": classes,
        "fnv1a_32": {s: fnv1a_32(s.encode("utf-8")) for s in ("", "a", "w:refund", "c:<ré", "c:📦")},
        "cases": cases,
    }


def write_vectors(path: str | Path, vectors: dict) -> Path:
    p = Path(path)
    p.write_text(json.dumps(vectors, ensure_ascii=False, indent=1) + "\n", "utf-8")
    return p


def load_vectors(path: str | Path) -> dict:
    return json.loads(Path(path).read_text("utf-8"))


def padded_ids(case: dict, max_len: int) -> np.ndarray:
    """The ``[1, max_len]`` int32 input an exported model receives for one case."""
    out = np.zeros((1, max_len), dtype=np.int32)
    out[0, : len(case["ids"])] = case["ids"]
    return out
