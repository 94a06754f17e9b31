"""Text -> fixed-length bucket ids: the one featurizer shared by Python, Android and iOS.

The algorithm is written down in ``FEATURIZER_SPEC.md`` (version ``SPEC_VERSION``); the Kotlin/Java
and Swift ports follow that document and are checked against ``vectors.json``. Everything here is
defined over Unicode code points and UTF-8 bytes, never over regex classes, so the ports can be
exact. Change anything observable and you must bump ``SPEC_VERSION``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

SPEC_VERSION = "hashbag-v1"

FNV_OFFSET_BASIS = 0x811C9DC5  # FNV-1a 32-bit offset basis (2166136261)
FNV_PRIME = 0x01000193  # FNV-1a 32-bit prime (16777619)
PAD_ID = 0  # padding id; row 0 of every embedding table is all zeros

DEFAULT_N_BUCKETS = 1 << 17
DEFAULT_MAX_LEN = 256
DEFAULT_CHAR_NGRAMS = (2, 5)

# Cache of feature string -> 32-bit hash; most n-grams repeat across tickets. Bounded so a
# long-running server does not grow without limit.
_HASH_CACHE: dict[str, int] = {}
_HASH_CACHE_MAX = 500_000


def fnv1a_32(data: bytes) -> int:
    """FNV-1a over bytes, 32-bit: the hash every port must reproduce bit for bit."""
    h = FNV_OFFSET_BASIS
    for byte in data:
        h ^= byte
        h = (h * FNV_PRIME) & 0xFFFFFFFF
    return h


def normalize(text: str) -> str:
    """NFKC, then the full lowercase mapping of each code point on its own (no context rules)."""
    return "".join(ch.lower() for ch in unicodedata.normalize("NFKC", text))


def is_word_char(ch: str) -> bool:
    """A code point belongs to a token iff its general category is a Letter, Mark or Number."""
    return unicodedata.category(ch)[0] in "LMN"


def tokenize(normalized: str) -> list[str]:
    """Maximal runs of word code points; every other code point separates tokens."""
    tokens: list[str] = []
    start = -1
    for i, ch in enumerate(normalized):
        if is_word_char(ch):
            if start < 0:
                start = i
        elif start >= 0:
            tokens.append(normalized[start:i])
            start = -1
    if start >= 0:
        tokens.append(normalized[start:])
    return tokens


def features(text: str, char_ngrams: tuple[int, int] = DEFAULT_CHAR_NGRAMS,
             word_bigrams: bool = True) -> list[str]:
    """Feature strings in spec order: words, then word bigrams, then char n-grams per token."""
    tokens = tokenize(normalize(text))
    out = ["w:" + t for t in tokens]
    if word_bigrams:
        out += ["b:" + a + " " + b for a, b in zip(tokens, tokens[1:])]
    lo, hi = char_ngrams
    if lo > 0:
        for t in tokens:
            padded = "<" + t + ">"
            for n in range(lo, hi + 1):
                out += ["c:" + padded[i:i + n] for i in range(len(padded) - n + 1)]
    return out


def feature_hash(feature: str) -> int:
    """Cached FNV-1a 32 of the feature's UTF-8 bytes."""
    h = _HASH_CACHE.get(feature)
    if h is None:
        h = fnv1a_32(feature.encode("utf-8"))
        if len(_HASH_CACHE) >= _HASH_CACHE_MAX:
            _HASH_CACHE.clear()
        _HASH_CACHE[feature] = h
    return h


@dataclass(frozen=True)
class Featurizer:
    """The featurizer's parameters; they are saved with every model (``config.json``).

    Attributes:
        n_buckets: embedding rows; ids are in ``[1, n_buckets)`` and 0 is padding.
        max_len: fixed output length (truncate, then pad with 0).
        char_ngrams: inclusive (min, max) char n-gram lengths; (0, 0) disables them.
        word_bigrams: emit word bigrams.
    """

    n_buckets: int = DEFAULT_N_BUCKETS
    max_len: int = DEFAULT_MAX_LEN
    char_ngrams: tuple[int, int] = DEFAULT_CHAR_NGRAMS
    word_bigrams: bool = True

    def ids(self, text: str) -> list[int]:
        """Unpadded bucket ids of ``text``, truncated to ``max_len``."""
        m = self.n_buckets - 1
        feats = features(text, self.char_ngrams, self.word_bigrams)[: self.max_len]
        return [1 + feature_hash(f) % m for f in feats]

    def transform(self, texts: list[str]) -> np.ndarray:
        """Padded id matrix ``[len(texts), max_len]`` (int32), the model's input."""
        out = np.zeros((len(texts), self.max_len), dtype=np.int32)
        for row, text in enumerate(texts):
            ids = self.ids(text)
            out[row, : len(ids)] = ids
        return out

    def to_dict(self) -> dict:
        return {"spec_version": SPEC_VERSION, "n_buckets": self.n_buckets, "max_len": self.max_len,
                "char_ngrams": list(self.char_ngrams), "word_bigrams": self.word_bigrams}

    @classmethod
    def from_dict(cls, data: dict) -> "Featurizer":
        version = data.get("spec_version", SPEC_VERSION)
        if version != SPEC_VERSION:
            raise ValueError(f"featurizer spec {version!r} is not supported (this code: {SPEC_VERSION})")
        return cls(n_buckets=int(data["n_buckets"]), max_len=int(data["max_len"]),
                   char_ngrams=tuple(data["char_ngrams"]), word_bigrams=bool(data["word_bigrams"]))
