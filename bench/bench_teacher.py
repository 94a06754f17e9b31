"""Teacher, server tier and distilled student on intent data nobody here wrote, with the peers.

Usage: ``python bench/bench_teacher.py [--sets banking77 hwu64 oos oos-other] [--variants 2] [--data ../shared/data]``
(needs the teacher extra and ``triage teacher install``; scikit-learn for the TF-IDF peer, from
the ``bench`` extra). Prints one table per set; the numbers go into docs/fallback.md.

Validation only (the test splits are held back and measured elsewhere):

* ``banking77``: BANKING77 (CC BY 4.0) ``train.csv``, a seeded 15 % split (as bench_fallback.py);
* ``hwu64``: HWU64 (CC BY-SA 3.0) ``train`` -> ``valid``;
* ``oos``: BANKING77-OOS ``train`` -> ``valid`` in-scope + ``id-oos``/``ood-oos`` ``valid``: in-scope
  accuracy and OOS recall at the max-probability threshold that loses <= 1 point of in-scope
  accuracy, and the AUROC of max-probability for in-scope vs out-of-scope;
* ``oos-other``: the same, trained as a helpdesk taxonomy is, with a catch-all class: the
  ``id-oos/train`` rows (near-topic banking questions of 27 other intents) labelled ``other``.
  An answer ``other`` counts as a rejection; the score is the highest in-scope probability. The
  ``ood-oos`` rows (off-topic) have no training counterpart.

Rows: the student (<= 5 MB hashed n-gram bag) on gold labels; the student distilled from the
server tier without and with embedding matching (each also exported, fp32 and int8, in LiteRT); the
server tier (all-MiniLM-L6-v2 + softmax regression times an n-gram bag); the MiniLM+LR peer (the
tier's encoder head alone, ``ngram=False``); word+char TF-IDF + logistic regression (C=10). On the
two out-of-scope sets, one more row scores with the server tier's novelty gate
(:mod:`tflite_fallback.novelty`) instead of max-probability, then says what the gate's own
threshold (set on held-out in-scope training rows, without out-of-scope data) rejects.
Everything runs through the production classes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_fallback import banking77  # noqa: E402

from plugin.datasets import load_labelled  # noqa: E402
from plugin.metrics import percentile  # noqa: E402
from tflite_fallback.distill import DistillConfig, distill  # noqa: E402
from tflite_fallback.encoder_model import EncoderClassifier  # noqa: E402
from tflite_fallback.export_tflite import build_tflite, litert_runner  # noqa: E402
from tflite_fallback.graph import graph_weights  # noqa: E402
from tflite_fallback.minilm import shared_encoder  # noqa: E402
from tflite_fallback.model import HashBagClassifier  # noqa: E402


OTHER = "other"  # the catch-all class of the ``oos-other`` set


def macro_f1(gold: list[str], pred: list[str]) -> float:
    scores = []
    for c in sorted(set(gold)):
        tp = sum(g == c and p == c for g, p in zip(gold, pred))
        fp = sum(g != c and p == c for g, p in zip(gold, pred))
        fn = sum(g == c and p != c for g, p in zip(gold, pred))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(scores))


def auroc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(score of an in-scope row > score of an out-of-scope row), ties half."""
    allv = np.concatenate([pos, neg])
    ranks = allv.argsort().argsort().astype(float) + 1
    _, inv, counts = np.unique(allv, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=ranks)
    ranks = (sums / counts)[inv]
    return float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def tfidf_peer(train_x, train_y):
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline, make_union
    except ImportError:
        return None
    model = make_pipeline(make_union(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                                     TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
                          LogisticRegression(C=10, max_iter=2000))
    return model.fit(train_x, train_y)


def litert_proba(model: HashBagClassifier, int8: bool):
    """``predict_proba`` through the exported ``.tflite`` in the LiteRT interpreter, and the file's
    size in MB."""
    flat = build_tflite(graph_weights(model, int8=int8), model.max_len)
    run = litert_runner(flat)
    return (lambda texts: run(model.featurizer.transform(list(texts)))), len(flat) / 1e6


def models(train_x: list[str], train_y: list[str], variants: int, seed: int):
    """(name, predict_proba(texts) -> [n, k], classes, size_mb, train_s) for each row."""
    enc = shared_encoder()
    classes = sorted(set(train_y))
    out = []
    t = time.perf_counter()
    emb = enc.encode(train_x)
    encode_s = time.perf_counter() - t
    t = time.perf_counter()
    teacher = EncoderClassifier(seed=seed).fit(train_x, train_y, classes=classes, embeddings=emb,
                                               out_of_scope=OTHER if OTHER in classes else None)
    teacher_s = time.perf_counter() - t + encode_s
    t = time.perf_counter()
    minilm_lr = EncoderClassifier(ngram=False, seed=seed).fit(None, train_y, classes=classes, embeddings=emb)
    minilm_lr_s = time.perf_counter() - t + encode_s
    t = time.perf_counter()
    student = HashBagClassifier(seed=seed).fit(train_x, train_y, classes=classes)
    out.append(("student (gold)", student.predict_proba, 4 * student.embedding_.size / 1e6 + 0.02,
                time.perf_counter() - t))
    for label, weight in ((f"student distilled (x{variants} variants)", 0.0),
                          ("  + embedding matching (weight 4)", 4.0)):
        t = time.perf_counter()
        distilled = distill(train_x, train_y, teacher,
                            student=HashBagClassifier(embedding_weight=weight, seed=seed),
                            config=DistillConfig(variants_per_text=variants, seed=seed), embeddings=emb,
                            out_of_scope=OTHER if OTHER in classes else None)
        distill_s = time.perf_counter() - t + teacher_s
        out.append((label, distilled.predict_proba, 4 * distilled.embedding_.size / 1e6 + 0.02, distill_s))
        for int8 in (False, True):
            proba, size = litert_proba(distilled, int8)
            out.append((f"    the same, {'int8' if int8 else 'fp32'} .tflite in LiteRT", proba, size, distill_s))
    out.append(("server tier = MiniLM+LR x n-gram bag", teacher.predict_proba, 95.1, teacher_s))
    out.append(("MiniLM+LR (the encoder head alone)", minilm_lr.predict_proba, 90.9, minilm_lr_s))
    t = time.perf_counter()
    peer = tfidf_peer(train_x, train_y)
    if peer is not None:
        order = [list(peer.classes_).index(c) for c in classes]
        out.append(("TF-IDF+LR (C=10)", lambda xs, p=peer, o=order: p.predict_proba(xs)[:, o], float("nan"),
                    time.perf_counter() - t))
    return out, classes, teacher


def oos_columns(conf_in: np.ndarray, conf_out: np.ndarray, ok: np.ndarray, acc: float) -> str:
    """In-scope accuracy and OOS recall at the highest threshold that keeps in-scope accuracy
    within 1 point, and the AUROC."""
    best = -np.inf
    for thr in np.unique(conf_in):
        if np.mean(ok & (conf_in >= thr)) >= acc - 0.01:
            best = max(best, float(thr))
    return (f"   {np.mean(ok & (conf_in >= best)):11.1%}  {np.mean(conf_out < best):10.1%}"
            f"  {auroc(conf_in, conf_out):5.3f}")


def novelty_line(tier: EncoderClassifier, val_x: list[str], val_y: list[str], oos: list[str]) -> str:
    """The tier's novelty gate: its score as the confidence, then what its own threshold (set on
    held-out in-scope rows only) does to in-scope and out-of-scope questions."""
    enc = shared_encoder()
    e_in, e_out = enc.encode(val_x), enc.encode(oos)
    p_in, p_out = tier.predict_proba(val_x, embeddings=e_in), tier.predict_proba(oos, embeddings=e_out)
    s_in, s_out = tier.novelty_.scores(e_in, p_in), tier.novelty_.scores(e_out, p_out)
    ok = np.array([tier.classes_[i] == y for i, y in zip(p_in.argmax(1), val_y)])
    line = f"{'  server tier, novelty gate score':38} {ok.mean():6.1%} {'':8} {'':6} {'':8} {'':7}"
    line += oos_columns(s_in, s_out, ok, float(ok.mean()))
    gate_in, gate_out = s_in < tier.novelty_.threshold, s_out < tier.novelty_.threshold
    line += (f"\n{'    at its own threshold':38} rejects {gate_in.mean():.1%} of in-scope and {gate_out.mean():.1%} "
             "of out-of-scope questions")
    if OTHER in tier.classes_:  # what the service does: an `other` answer or the gate sends a ticket to review
        k = tier.classes_.index(OTHER)
        other_in, other_out = p_in.argmax(1) == k, p_out.argmax(1) == k
        line += (f"\n{'    `other` answers alone / or the gate':38} reject {other_in.mean():.1%} / "
                 f"{(other_in | gate_in).mean():.1%} of in-scope and {other_out.mean():.1%} / "
                 f"{(other_out | gate_out).mean():.1%} of out-of-scope questions")
    return line


def run_set(name: str, train, val, variants: int, seed: int, oos: list[str] | None = None) -> None:
    train_x, train_y = [t for t, _ in train], [lab for _, lab in train]
    val_x, val_y = [t for t, _ in val], [lab for _, lab in val]
    rows, classes, tier = models(train_x, train_y, variants, seed)
    print(f"\n== {name}: {len(train)} train / {len(val)} validation, {len(classes)} classes"
          + (f", {len(oos)} out-of-scope" if oos else ""))
    in_scope = [i for i, c in enumerate(classes) if c != OTHER]  # an `other` answer is a rejection
    head = f"{'model':38} {'acc':>6} {'macroF1':>8} {'MB':>6} {'train s':>8} {'p50 ms':>7}"
    print(head + ("   in-scope@thr  OOS recall  AUROC" if oos else ""))
    for label, proba, size, train_s in rows:
        p = proba(val_x)
        pred = [classes[i] for i in p.argmax(1)]
        acc = np.mean([a == b for a, b in zip(pred, val_y)])
        times = []
        for x in val_x[:200]:
            t = time.perf_counter()
            proba([x])
            times.append((time.perf_counter() - t) * 1000)
        line = (f"{label:38} {acc:6.1%} {macro_f1(val_y, pred):8.1%} {size:6.1f} {train_s:8.0f} "
                f"{percentile(times, 50):7.2f}")
        if oos:
            ok = np.array([a == b for a, b in zip(pred, val_y)])
            line += oos_columns(p[:, in_scope].max(1), proba(oos)[:, in_scope].max(1), ok, float(acc))
        print(line, flush=True)
    if oos and tier.novelty_ is not None:
        print(novelty_line(tier, val_x, val_y, oos), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--sets", nargs="+", default=["banking77", "hwu64", "oos", "oos-other"],
                    choices=["banking77", "hwu64", "oos", "oos-other"])
    ap.add_argument("--variants", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    def pairs(folder: Path):
        return [(it.text, it.label) for it in load_labelled(folder)]

    for name in args.sets:
        if name == "banking77":
            train, val = banking77(args.data, seed=args.seed)
            run_set("BANKING77 (15 % split of train)", train, val, args.variants, args.seed)
        elif name == "hwu64":
            run_set("HWU64 (train -> valid)", pairs(args.data / "hwu64" / "train"),
                    pairs(args.data / "hwu64" / "valid"), args.variants, args.seed)
        else:
            d = args.data / "banking77-oos"
            oos = [t for t, _ in pairs(d / "id-oos" / "valid") + pairs(d / "ood-oos" / "valid")]
            if name == "oos":
                run_set("BANKING77-OOS (train -> valid)", pairs(d / "train"), pairs(d / "valid"),
                        args.variants, args.seed, oos=oos)
            else:
                other = [(text, OTHER) for text, _ in pairs(d / "id-oos" / "train")]
                run_set(f"BANKING77-OOS (train + id-oos/train as `{OTHER}` -> valid)", pairs(d / "train") + other,
                        pairs(d / "valid"), args.variants, args.seed, oos=oos)
    return 0


if __name__ == "__main__":
    sys.exit(main())
