"""Audit a taxonomy against real traffic: "other" rate, confused and unused categories, and new
categories suggested from the tickets the taxonomy could not place. Pure (numpy only).

Traffic is what the store recorded (or a file classified on the spot): each ticket's redacted text,
our label, score and decision. Tickets labelled ``other`` or sent to review are the ones a missing
category would have caught, so they are clustered: agglomerative clustering with average linkage on
cosine similarity, stopped when the closest two clusters are less alike than a stop similarity.
Average linkage needs no number of clusters: on BANKING77 and HWU64 it kept a missing intent
together where k-means split it (bench/bench_audit.py).

What is compared depends on the model that runs. With the server tier (a pretrained sentence
encoder) the tickets are compared in its embedding space, where paraphrases without a shared word
still meet; the stop is relative (the pool's mean pairwise cosine plus ``ENCODER_STOP_SIGMAS``
standard deviations), because how alike two unrelated tickets look differs by domain (0.24 on
average in BANKING77, 0.09 in HWU64). With the bundled model (no pretrained knowledge: its own
pooled embedding collapses what it was not trained on) they are compared as TF-IDF over lightly
stemmed words, the IDF taken over all audited traffic so that words every ticket uses weigh
little, with the fixed ``LINK_STOP``.

A cluster's core (members close to its centroid) becomes a suggestion when it is big enough; its
name is made of its most distinctive words (share in the cluster against share in all traffic), its
most central members are the examples, and it prints as a ``[[categories]]`` TOML block to paste
into the taxonomy file.

Confused pairs come from agents' labels where there are any (shadow agreement, corrections):
``plugin.taxonomy_lint.confused_pairs`` on that confusion matrix. A category nobody uses is one no
ticket was labelled with in the window.
"""

from __future__ import annotations

import math
import re
import threading
import weakref
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Iterable, Protocol, Sequence

import numpy as np

from .redact import PLACEHOLDER
from .rollout import Activity, RolloutTicket
from .store import Event
from .taxonomy import Taxonomy
from .taxonomy_lint import OTHER_AUDIT, OTHER_WARN, confused_pairs

_WORD = re.compile(r"[a-z][a-z']+")
_STOP = frozenset("""a about above after again all am an and any are as at be because been before
being below between both but by can cannot could did do does doing don done down during each few
for from further get got had has have having he her here hers him his how i if in into is it its
itself just let like me more most my myself need no nor not now of off on once only or other our
ours out over own please same she should so some still such than thank thanks that the their them
then there these they this those through to too under until up very want was we were what when
where which while who whom why will with would you your yours hi hello hey dear regards can't i'm
i've it's don't didn't doesn't isn't wasn't won't also really yet already one two get getting
""".split())
MIN_CLUSTER = 5  # fewest tickets a suggestion rests on
MIN_SHARE = 0.02  # ... and at least this share of the audited pool
LINK_STOP = 0.08  # TF-IDF: stop merging when the closest clusters' mean pairwise cosine falls below this
MEMBER_SIM = 0.3  # TF-IDF: a member less similar than this to its cluster's centroid is left out
ENCODER_STOP_SIGMAS = 1.5  # encoder: stop (and core) at the pool's mean pairwise cosine + 1.5 std
EMBED_CACHE = 5000  # texts' embeddings kept per encoder (the dashboard re-audits the same pool)
MAX_POOL = 2000  # newest pooled tickets clustered (the similarity matrix is MAX_POOL² floats)
NAME_TERMS = 3  # distinctive terms in a proposed name
EXAMPLES = 5  # representative examples per suggestion


class SentenceEncoder(Protocol):
    """What the server tier's encoder offers: unit-length sentence embeddings."""

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class AuditItem:
    """One audited ticket: redacted text, our label, score and decision; ``gold`` where an agent said."""

    id: str
    text: str
    label: str
    score: float
    decision: str
    gold: str | None = None


@dataclass
class Suggestion:
    """A proposed new category: a cluster of tickets the taxonomy could not place."""

    name: str
    size: int
    cohesion: float
    terms: list[str]
    examples: list[str]
    member_ids: list[str] = field(default_factory=list)

    def toml(self) -> str:
        """A ``[[categories]]`` block ready to paste (description and examples to be reviewed)."""
        examples = ", ".join(_toml_str(e) for e in self.examples[:3])
        return (f"[[categories]]\nname = {_toml_str(self.name)}\n"
                f"description = {_toml_str('Tickets about ' + ', '.join(self.terms) + ' (suggested by the audit from ' + str(self.size) + ' tickets; edit me).')}\n"
                f"examples = [{examples}]\nauto_apply = false  # suggest only until its precision is measured\n")


@dataclass
class AuditReport:
    n: int
    other_rate: float
    needs_review_rate: float
    verdict: str  # "ok" | "warn" (> 15 % other) | "audit" (> 30 %)
    pool: int  # tickets clustered (other or needs review)
    unused: list[str]
    confused: list[tuple[str, str, float, int]]
    suggestions: list[Suggestion]


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def words(text: str) -> list[str]:
    """Content words of a redacted text (placeholders and stop words dropped)."""
    return [w for w in _WORD.findall(PLACEHOLDER.sub(" ", text).lower()) if w not in _STOP and len(w) > 2]


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):  # "charged"/"charges"/"charging" -> "charg"
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[:-len(suffix)]
    return word


def tokens(text: str) -> list[str]:
    """What clustering compares: stemmed content words."""
    return [_stem(w) for w in words(text)]


def tfidf(docs: list[list[str]], background: list[list[str]]) -> tuple[np.ndarray, list[str], np.ndarray]:
    """L2-normalised TF-IDF rows for ``docs``; IDF over ``background`` (all traffic).

    Returns the matrix, its vocabulary (terms seen at least twice in ``docs``), and the IDF.
    """
    df_pool = Counter(t for d in docs for t in set(d))
    vocab = sorted(t for t, c in df_pool.items() if c >= 2)
    index = {t: i for i, t in enumerate(vocab)}
    df = Counter(t for d in background for t in set(d) if t in index)
    idf = np.array([math.log((1 + len(background)) / (1 + df[t])) + 1.0 for t in vocab])
    x = np.zeros((len(docs), len(vocab)))
    for row, d in enumerate(docs):
        for t, c in Counter(d).items():
            j = index.get(t)
            if j is not None:
                x[row, j] = 1.0 + math.log(c)
    x *= idf
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0), vocab, idf


def average_linkage(x: np.ndarray, stop: float = LINK_STOP) -> list[list[int]]:
    """Agglomerative clustering of L2-normalised rows, average linkage on cosine similarity.

    Merges the two most similar clusters (mean pairwise cosine, kept up to date with the
    Lance-Williams rule) until none are ``stop`` alike; returns the clusters as row lists.
    """
    n = len(x)
    sim = x @ x.T
    np.fill_diagonal(sim, -np.inf)
    size = np.ones(n)
    members: list[list[int]] = [[i] for i in range(n)]
    while n > 1:
        flat = int(np.argmax(sim))
        i, j = divmod(flat, len(sim))
        if sim[i, j] < stop:
            break
        merged = (sim[i] * size[i] + sim[j] * size[j]) / (size[i] + size[j])
        sim[i, :] = merged
        sim[:, i] = merged
        sim[i, i] = -np.inf
        sim[j, :] = -np.inf
        sim[:, j] = -np.inf
        size[i] += size[j]
        members[i] += members[j]
        members[j] = []
    return [m for m in members if m]


@dataclass(frozen=True)
class _Space:
    """Pool tickets as L2-normalised rows (a zero row shares nothing: it stays alone), and how alike
    they must be."""

    rows: np.ndarray
    stop: float  # average linkage stops below this
    member_sim: float  # a cluster's core: members at least this similar to its centroid


def _tfidf_space(pool: list[AuditItem], background: list[AuditItem]) -> _Space:
    docs = [tokens(it.text) for it in pool]
    x, _, _ = tfidf(docs, [tokens(it.text) for it in background] or docs)
    return _Space(x, LINK_STOP, MEMBER_SIM)


def _encoder_space(pool: list[AuditItem], encoder: SentenceEncoder) -> _Space:
    x = cached_embeddings(encoder, [PLACEHOLDER.sub(" ", it.text) for it in pool])
    pairs = (x @ x.T)[np.triu_indices(len(x), 1)]
    stop = float(pairs.mean() + ENCODER_STOP_SIGMAS * pairs.std()) if len(pairs) else 1.0
    return _Space(x, stop, stop)


_EMBEDDINGS: "weakref.WeakKeyDictionary[object, OrderedDict[str, np.ndarray]]" = weakref.WeakKeyDictionary()
_EMBEDDINGS_LOCK = threading.Lock()


def cached_embeddings(encoder: SentenceEncoder, texts: list[str]) -> np.ndarray:
    """``encoder.encode(texts)``, remembering the newest ``EMBED_CACHE`` texts per encoder: the
    dashboard audits nearly the same pool on every load, and encoding is the audit's cost."""
    with _EMBEDDINGS_LOCK:
        cache = _EMBEDDINGS.setdefault(encoder, OrderedDict())
        missing = list(dict.fromkeys(t for t in texts if t not in cache))
    fresh = dict(zip(missing, encoder.encode(missing))) if missing else {}
    with _EMBEDDINGS_LOCK:
        cache.update(fresh)
        for t in texts:
            if t in cache:
                cache.move_to_end(t)
        out = np.stack([fresh[t] if t in fresh else cache[t] for t in texts]) if texts else np.zeros((0, 0))
        while len(cache) > EMBED_CACHE:
            cache.popitem(last=False)
    return np.asarray(out, np.float64)


def suggest_categories(pool: list[AuditItem], background: list[AuditItem], *,
                       existing: frozenset[str] | set[str] = frozenset(),
                       encoder: SentenceEncoder | None = None, max_pool: int = MAX_POOL) -> list[Suggestion]:
    """Clusters of ``pool`` (other / needs-review tickets) that look like a missing category,
    compared in ``encoder``'s space when there is one, else as TF-IDF; only the newest
    ``max_pool`` are clustered (the work grows with its square)."""
    pool = [it for it in pool[-max_pool:] if words(it.text)]
    if len(pool) < MIN_CLUSTER:
        return []
    space = _encoder_space(pool, encoder) if encoder is not None else _tfidf_space(pool, background)
    x = space.rows
    if not x.any():
        return []
    background_df = Counter(t for it in background for t in set(words(it.text)))
    n_bg = max(1, len(background))
    min_size = max(MIN_CLUSTER, math.ceil(MIN_SHARE * len(pool)))
    out: list[Suggestion] = []
    for cluster in average_linkage(x, space.stop):
        if len(cluster) < min_size:
            continue
        rows = np.array(cluster)
        centre = x[rows].sum(axis=0)
        centre /= np.linalg.norm(centre) or 1.0
        sims = x[rows] @ centre
        core = sims >= space.member_sim  # the cluster's core (purity)
        rows, sims = rows[core], sims[core]
        if len(rows) < min_size:
            continue
        cohesion = float(sims.mean())
        members = [pool[r] for r in rows]
        terms = _distinctive_terms([words(m.text) for m in members], background_df, n_bg)
        name = _name(terms, existing | {s.name for s in out})
        order = rows[np.argsort(-sims)]
        examples = list(dict.fromkeys(pool[r].text.strip() for r in order))[:EXAMPLES]
        out.append(Suggestion(name=name, size=len(rows), cohesion=round(cohesion, 3), terms=terms,
                              examples=examples, member_ids=[m.id for m in members]))
    return sorted(out, key=lambda s: -s.size)


def _distinctive_terms(docs: list[list[str]], background_df: Counter, n_bg: int) -> list[str]:
    """Terms most over-represented in the cluster (share in cluster × log-ratio to all traffic)."""
    df = Counter(t for d in docs for t in set(d))
    n = len(docs)
    scored = []
    for t, c in df.items():
        inside, outside = c / n, (background_df.get(t, 0) + 1) / (n_bg + 1)
        if inside >= 0.2:
            scored.append((inside * math.log(inside / outside), t))
    terms: list[str] = []
    for _, t in sorted(scored, reverse=True):
        if any(t in u.split() or u in t.split() for u in terms):
            continue  # "exchange rate" after "exchange" adds nothing
        terms.append(t)
        if len(terms) == NAME_TERMS:
            break
    return terms


def _name(terms: list[str], taken: set[str]) -> str:
    base = "_".join("_".join(t.split()) for t in terms[:2]) or "new_topic"
    name, i = base, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    return name


def items_from_store(events: Iterable[Event], handled: dict[str, RolloutTicket],
                     activity: Iterable[Activity]) -> list[AuditItem]:
    """Classified tickets with their redacted text (the rollout table), oldest first; ``gold`` is
    the category an agent last set on the ticket, where one did."""
    agent = {(a.vendor, a.ticket_id): a.value for a in activity if a.kind == "label"}
    return [AuditItem(ev.id, handled[ev.id].text, ev.label, ev.score or 0.0, ev.decision or "",
                      gold=agent.get((ev.vendor, ev.ticket_id)))
            for ev in events if ev.label is not None and ev.id in handled and handled[ev.id].text]


def audit(items: list[AuditItem], taxonomy: Taxonomy, *, encoder: SentenceEncoder | None = None,
          max_pool: int = MAX_POOL) -> AuditReport:
    """The whole audit over ``items`` (recent traffic or a classified file); ``encoder``: the running
    model's sentence encoder, where it has one (``plugin.fallback.sentence_encoder``)."""
    n = len(items)
    other = sum(it.label == taxonomy.other for it in items)
    review = sum(it.decision == "needs_review" for it in items)
    other_rate = other / n if n else 0.0
    verdict = "audit" if other_rate > OTHER_AUDIT else "warn" if other_rate > OTHER_WARN else "ok"
    used = Counter(it.label for it in items)
    unused = [c.name for c in taxonomy.categories if c.name != taxonomy.other and not used.get(c.name)]
    golds = [it for it in items if it.gold]
    confused: list[tuple[str, str, float, int]] = []
    if golds:
        labels = sorted({it.gold for it in golds} | {it.label for it in golds})
        idx = {lb: i for i, lb in enumerate(labels)}
        matrix = [[0] * len(labels) for _ in labels]
        for it in golds:
            matrix[idx[it.gold]][idx[it.label]] += 1
        confused = [p for p in confused_pairs({"confusion": {"labels": labels, "matrix": matrix}}) if p[2] > 0]
    pool = [it for it in items if it.label == taxonomy.other or it.decision == "needs_review"]
    suggestions = suggest_categories(pool, items, existing=set(taxonomy.names), encoder=encoder,
                                     max_pool=max_pool)
    return AuditReport(n=n, other_rate=other_rate, needs_review_rate=review / n if n else 0.0, verdict=verdict,
                       pool=len(pool), unused=unused, confused=confused[:10], suggestions=suggestions)


def render_audit_text(r: AuditReport) -> str:
    """The terminal report, suggestions last as TOML to paste into the taxonomy file."""
    advice = {"ok": f"under {OTHER_WARN:.0%}: fine",
              "warn": f"above {OTHER_WARN:.0%}: a topic may be missing",
              "audit": f"above {OTHER_AUDIT:.0%}: real topics are missing, audit the taxonomy"}[r.verdict]
    lines = [f"== taxonomy audit: {r.n} tickets", f'"other" rate {r.other_rate:.1%} ({advice}); '
             f"needs review {r.needs_review_rate:.1%}; {r.pool} tickets clustered (other or needs review)"]
    lines.append("unused categories: " + (", ".join(r.unused) if r.unused else "none"))
    if r.confused:
        lines.append("confused with each other (agents' labels vs ours):")
        lines += [f"  {a} <-> {b}: {share:.0%} of {total}" for a, b, share, total in r.confused]
    if not r.suggestions:
        lines.append("no new category suggested (no big, tight cluster among other / needs-review tickets)")
        return "\n".join(lines)
    lines.append(f"{len(r.suggestions)} suggested new categor{'y' if len(r.suggestions) == 1 else 'ies'}:")
    for s in r.suggestions:
        lines.append(f"\n# {s.name}: {s.size} tickets, cohesion {s.cohesion:.2f}; terms: {', '.join(s.terms)}")
        lines += [f"#   e.g. {e[:100]}" for e in s.examples]
        lines.append(s.toml())
    return "\n".join(lines)


def planted_class_match(report: AuditReport, items: list[AuditItem], hidden: str) -> dict:
    """How well the audit found a class missing from the taxonomy (the bench and its test).

    The suggestion holding the most ``hidden`` tickets is the match: purity is its share of them,
    recall its share of the hidden tickets that reached the pool, reach that share of all of them.
    """
    by_id = {it.id: it for it in items}
    total = sum(it.gold == hidden for it in items)
    pooled = sum(it.gold == hidden and (it.label == "other" or it.decision == "needs_review") for it in items)
    best, best_hits = None, 0
    for s in report.suggestions:
        hits = sum(by_id[i].gold == hidden for i in s.member_ids)
        if hits > best_hits:
            best, best_hits = s, hits
    return {"name": best.name if best else None, "size": best.size if best else 0,
            "purity": best_hits / best.size if best else 0.0, "recall": best_hits / pooled if pooled else 0.0,
            "reach": pooled / total if total else 0.0, "hidden_in_pool": pooled, "hidden_total": total}
