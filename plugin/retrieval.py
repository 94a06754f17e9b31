"""Few-shot example retrieval: the k labelled tickets most similar to a new one.

Hashed word unigrams + bigrams weighted by TF-IDF, in an inverted index of numpy arrays. No hub
model, no network, no scipy; a query touches only the postings of its own words, which keeps
p50 latency around a millisecond at 100k examples. Examples are redacted when the index is built,
so what goes into a prompt has already lost its PII.
"""

from __future__ import annotations

import json
import re
import zlib
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .normalize import normalize_bounded
from .prompting import Example
from .redact import redact

INDEX_FILE = "retrieval.npz"
EXAMPLES_FILE = "examples.jsonl"
FORMAT_VERSION = 1
MAX_DF_SHARE = 0.1  # features in more than this share of examples carry little signal and cost the most
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def features(text: str) -> Counter[int]:
    """Hashed word unigrams and bigrams (crc32, stable across processes and platforms)."""
    words = _WORD.findall(text.lower())
    grams = words + [f"{a} {b}" for a, b in zip(words, words[1:])]
    return Counter(zlib.crc32(g.encode()) for g in grams)


class RetrievalIndex:
    """An inverted TF-IDF index over labelled, redacted examples.

    Build with ``RetrievalIndex.build(texts, labels)``, persist with ``save(dir)`` and ``load(dir)``.
    """

    def __init__(self, feats: np.ndarray, indptr: np.ndarray, doc_ids: np.ndarray, weights: np.ndarray,
                 idf: np.ndarray, texts: list[str], labels: list[str]) -> None:
        self.feats = feats  # sorted unique feature hashes (uint32)
        self.indptr = indptr  # postings of feats[i] are doc_ids/weights[indptr[i]:indptr[i+1]]
        self.doc_ids = doc_ids
        self.weights = weights
        self.idf = idf
        self.texts = texts
        self.labels = labels

    def __len__(self) -> int:
        return len(self.texts)

    @classmethod
    def build(cls, texts: Sequence[str], labels: Sequence[str], *,
              clean: Callable[[str], str] | None = None) -> "RetrievalIndex":
        """Index labelled examples; ``clean`` defaults to normalize + redact (PII never stored)."""
        if len(texts) != len(labels):
            raise ValueError("texts and labels differ in length")
        clean = clean or (lambda t: redact(normalize_bounded(t)[0]).text)
        cleaned = [clean(t) for t in texts]
        rows: list[tuple[np.ndarray, np.ndarray]] = []
        df: Counter[int] = Counter()
        for text in cleaned:
            f = features(text)
            df.update(f.keys())
            rows.append((np.fromiter(f.keys(), np.uint32, len(f)), np.fromiter(f.values(), np.float32, len(f))))
        n = max(len(cleaned), 1)
        feats = np.array(sorted(df), dtype=np.uint32)
        dfs = np.array([df[int(h)] for h in feats], dtype=np.float32)
        idf = (np.log((1 + n) / (1 + dfs)) + 1).astype(np.float32)
        idf[dfs > MAX_DF_SHARE * n + 1] = 0.0
        all_feats, all_docs, all_w = [], [], []
        for doc, (h, tf) in enumerate(rows):
            pos = np.searchsorted(feats, h)
            w = (1 + np.log(tf)) * idf[pos]
            norm = float(np.linalg.norm(w)) or 1.0
            keep = w > 0
            all_feats.append(pos[keep])
            all_docs.append(np.full(int(keep.sum()), doc, dtype=np.int32))
            all_w.append((w[keep] / norm).astype(np.float32))
        pos = np.concatenate(all_feats) if all_feats else np.zeros(0, np.int64)
        docs = np.concatenate(all_docs) if all_docs else np.zeros(0, np.int32)
        w = np.concatenate(all_w) if all_w else np.zeros(0, np.float32)
        order = np.argsort(pos, kind="stable")
        indptr = np.zeros(len(feats) + 1, dtype=np.int64)
        np.add.at(indptr, pos + 1, 1)
        return cls(feats, np.cumsum(indptr), docs[order], w[order], idf, cleaned, [str(x) for x in labels])

    def search(self, text: str, k: int) -> list[Example]:
        """The ``k`` most similar examples (cosine of TF-IDF vectors), most similar first."""
        if k <= 0 or not self.texts:
            return []
        f = features(text)
        if not f:
            return []
        h = np.fromiter(f.keys(), np.uint32, len(f))
        pos = np.searchsorted(self.feats, h)
        pos = np.minimum(pos, len(self.feats) - 1)
        known = (self.feats[pos] == h) & (self.idf[pos] > 0)
        if not known.any():
            return []
        pos = pos[known]
        q = (1 + np.log(np.fromiter(f.values(), np.float32, len(f))[known])) * self.idf[pos]
        starts, ends = self.indptr[pos], self.indptr[pos + 1]
        docs = np.concatenate([self.doc_ids[s:e] for s, e in zip(starts, ends)])
        contrib = np.concatenate([self.weights[s:e] * qi for s, e, qi in zip(starts, ends, q)])
        scores = np.bincount(docs, weights=contrib, minlength=len(self.texts))
        candidates = np.flatnonzero(scores)  # partition only the documents that share a feature
        k = min(k, len(candidates))
        if k == 0:
            return []
        cand_scores = scores[candidates]
        best = np.argpartition(-cand_scores, k - 1)[:k]
        top = candidates[best[np.argsort(-cand_scores[best], kind="stable")]]
        return [Example(text=self.texts[i], label=self.labels[i]) for i in top]

    def save(self, directory: str | Path) -> Path:
        """Write ``retrieval.npz`` and ``examples.jsonl`` into ``directory``."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(d / INDEX_FILE, feats=self.feats, indptr=self.indptr, doc_ids=self.doc_ids,
                            weights=self.weights, idf=self.idf, version=np.array(FORMAT_VERSION))
        with (d / EXAMPLES_FILE).open("w", encoding="utf-8") as fh:
            for t, lab in zip(self.texts, self.labels):
                fh.write(json.dumps({"text": t, "label": lab}, ensure_ascii=False) + "\n")
        return d

    @classmethod
    def load(cls, directory: str | Path) -> "RetrievalIndex":
        d = Path(directory)
        with np.load(d / INDEX_FILE) as z:
            if int(z["version"]) != FORMAT_VERSION:
                raise ValueError(f"retrieval index format {int(z['version'])} is not {FORMAT_VERSION}")
            arrays = {k: z[k] for k in ("feats", "indptr", "doc_ids", "weights", "idf")}
        texts, labels = [], []
        with (d / EXAMPLES_FILE).open(encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                texts.append(row["text"])
                labels.append(row["label"])
        return cls(texts=texts, labels=labels, **arrays)


def index_exists(directory: str | Path) -> bool:
    return (Path(directory) / INDEX_FILE).exists() and (Path(directory) / EXAMPLES_FILE).exists()


@lru_cache(maxsize=4)
def _load_cached(directory: str, mtime_ns: int) -> RetrievalIndex:
    return RetrievalIndex.load(directory)


def default_index_dir(settings: object) -> Path:
    """Where the index lives: ``settings.index_dir``; else ``index/`` beside the active fallback
    model (so a retrained model can carry its own); else ``<instance_dir>/index``."""
    index_dir = getattr(settings, "index_dir", None)
    if index_dir:
        return Path(index_dir)
    try:
        from .fallback import model_path
        from .registry import active_model_dir

        beside = model_path(active_model_dir(settings)) / "index"  # type: ignore[arg-type]
        if index_exists(beside):
            return beside
    except Exception:  # noqa: BLE001 - no registry/model yet: fall through to the instance dir
        pass
    return Path(getattr(settings, "instance_dir")) / "index"


def load_retriever_for(settings: object) -> RetrievalIndex | None:
    """The configured index, loaded once per process (again only after it is rebuilt);
    None if none was built, in which case prompts carry no few-shot examples."""
    directory = default_index_dir(settings)
    if not index_exists(directory):
        return None
    return _load_cached(str(directory.resolve()), (directory / INDEX_FILE).stat().st_mtime_ns)
