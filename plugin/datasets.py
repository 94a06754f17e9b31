"""Labelled ticket files -> ``Item`` lists, plus a seeded stratified split.

One loader for every labelled file the project reads (evaluation, training, corrections), so the
column defaults for the public datasets live in one place:

* CSV or JSONL with a text and a label column. Defaults: text from the first of ``text``,
  ``utterance``, ``body``, ``Consumer complaint narrative``; label from the first of ``label``,
  ``category``, ``intent``, ``queue``, ``Product`` (BANKING77 ``text,category``; Bitext
  ``utterance,category``; CFPB; the multilingual tickets). An optional ``subject`` column is kept.
* A folder with ``seq.in`` and ``label`` files, one example per line (HWU64, BANKING77-OOS).

Labels are kept as written in the file; :func:`map_to_taxonomy` maps dataset labels (e.g. Bitext
``PAYMENT``) onto category names through the taxonomy's ``source_labels``.
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import tomlkit

from .exceptions import ConfigError
from .taxonomy import NAME_PATTERN, Taxonomy

TEXT_COLUMNS = ("text", "utterance", "body", "Consumer complaint narrative", "question")
LABEL_COLUMNS = ("label", "category", "intent", "queue", "Product")
SUBJECT_COLUMNS = ("subject",)
ID_COLUMNS = ("id", "ticket_id", "Complaint ID")


@dataclass(frozen=True)
class Item:
    """One labelled example. ``id`` is stable for a given file (the row number if none is given)."""

    id: str
    text: str
    label: str
    subject: str | None = None


def load_labelled(path: str | Path, text_col: str | None = None, label_col: str | None = None,
                  limit: int | None = None) -> list[Item]:
    """Load a labelled CSV, JSONL or ``seq.in``/``label`` folder.

    Args:
        path: file or folder.
        text_col: column holding the ticket text; default: first of ``TEXT_COLUMNS`` present.
        label_col: column holding the label; default: first of ``LABEL_COLUMNS`` present.
        limit: keep at most this many rows (first rows of the file; split or sample afterwards).

    Returns:
        Items with non-empty text and label, in file order.

    Raises:
        ConfigError: the file cannot be read or has no usable text/label column.
    """
    p = Path(path)
    if p.is_dir():
        items = _load_folder(p)
    elif p.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        items = _load_rows(_read_jsonl(p), p, text_col, label_col)
    elif p.exists():
        items = _load_rows(_read_csv(p), p, text_col, label_col)
    else:
        raise ConfigError(f"labelled data not found: {p}")
    return items[:limit] if limit else items


def stratified_split(items: list[Item], val_fraction: float = 0.2,
                     seed: int = 0) -> tuple[list[Item], list[Item]]:
    """Split into (train, validation) keeping each label's share; same seed, same split.

    Every label with at least two examples gets at least one validation example, so per-class
    metrics exist for all of them.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError("val_fraction must be between 0 and 1")
    by_label: dict[str, list[Item]] = defaultdict(list)
    for it in items:
        by_label[it.label].append(it)
    rng = random.Random(seed)
    train: list[Item] = []
    val: list[Item] = []
    for label in sorted(by_label):
        group = list(by_label[label])
        rng.shuffle(group)
        n_val = round(len(group) * val_fraction)
        if len(group) >= 2:
            n_val = min(max(n_val, 1), len(group) - 1)
        else:
            n_val = 0
        val.extend(group[:n_val])
        train.extend(group[n_val:])
    order = {it.id: i for i, it in enumerate(items)}
    return sorted(train, key=lambda it: order[it.id]), sorted(val, key=lambda it: order[it.id])


def map_to_taxonomy(items: list[Item], taxonomy: Taxonomy) -> list[Item]:
    """Rename labels to the taxonomy's categories.

    A label that is already a category name stays; one listed in a category's ``source_labels``
    becomes that category; anything else becomes the taxonomy's ``other`` category (that is what
    a perfect classifier restricted to this taxonomy would answer).
    """
    names = set(taxonomy.names)
    out = []
    for it in items:
        if it.label in names:
            label = it.label
        else:
            label = taxonomy.label_for_source(it.label) or taxonomy.other
        out.append(Item(it.id, it.text, label, it.subject))
    return out


def taxonomy_toml_from_labels(labels: list[str], other: str = "other",
                              examples: dict[str, list[str]] | None = None) -> str:
    """A starter taxonomy file whose categories are a dataset's labels (e.g. BANKING77's 77).

    Names are lower-cased and made valid category names; each keeps its dataset label in
    ``source_labels`` so :func:`map_to_taxonomy` maps the data onto it. Descriptions are generated
    from the label and should be edited by the admin; ``examples`` (label -> texts) become the
    category's prompt examples.
    """
    doc = tomlkit.document()
    doc["version"] = "from-data-1"
    doc["other"] = other
    thresholds = tomlkit.table()
    thresholds.update({"auto_apply": 0.85, "suggest": 0.6})
    doc["thresholds"] = thresholds
    categories = tomlkit.aot()
    seen: set[str] = set()
    for label in sorted(set(labels)):
        name = category_name(label)
        if name in seen or name == other:
            continue
        seen.add(name)
        words = label.replace("_", " ").replace("-", " ").strip().lower()
        categories.append({"name": name, "description": f"Customer asks about: {words}.",
                           "examples": list((examples or {}).get(label, [])[:3]), "source_labels": [label]})
    categories.append({"name": other, "description": "Anything that fits none of the categories above.",
                       "auto_apply": False})
    doc["categories"] = categories
    return tomlkit.dumps(doc)


def category_name(label: str) -> str:
    """Turn a dataset label into a valid category name (``PAYMENT`` -> ``payment``)."""
    name = re.sub(r"[^a-z0-9_-]+", "_", label.strip().lower()).strip("_-")[:48] or "label"
    if not re.match(NAME_PATTERN, name):
        name = ("c" + name)[:48]
    return name


def write_labelled(path: str | Path, items: list[Item]) -> None:
    """Write items as CSV (``.csv``) or JSONL (anything else) with ``id,text,label,subject``."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.suffix.lower() == ".csv":
        with p.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "text", "label", "subject"])
            for it in items:
                w.writerow([it.id, it.text, it.label, it.subject or ""])
    else:
        with p.open("w", encoding="utf-8") as fh:
            for it in items:
                fh.write(json.dumps({"id": it.id, "text": it.text, "label": it.label,
                                     "subject": it.subject}, ensure_ascii=False) + "\n")


def _read_csv(p: Path) -> list[dict]:
    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:
            return list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"cannot read {p}: {exc}") from exc


def _read_jsonl(p: Path) -> list[dict]:
    rows = []
    try:
        with p.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    row = json.loads(line)
                    if not isinstance(row, dict):
                        raise ConfigError(f"{p}:{n}: each line must be a JSON object")
                    rows.append(row)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read {p}: {exc}") from exc
    return rows


def _pick(columns: list[str], wanted: str | None, defaults: tuple[str, ...], what: str, p: Path) -> str:
    if wanted:
        if wanted not in columns:
            raise ConfigError(f"{p}: no {what} column {wanted!r} (columns: {', '.join(columns)})")
        return wanted
    for c in defaults:
        if c in columns:
            return c
    raise ConfigError(f"{p}: cannot guess the {what} column; pass --{what}-col "
                      f"(columns: {', '.join(columns)})")


def _load_rows(rows: list[dict], p: Path, text_col: str | None, label_col: str | None) -> list[Item]:
    if not rows:
        return []
    columns = list(rows[0].keys())
    tcol = _pick(columns, text_col, TEXT_COLUMNS, "text", p)
    lcol = _pick(columns, label_col, LABEL_COLUMNS, "label", p)
    scol = next((c for c in SUBJECT_COLUMNS if c in columns and c != tcol), None)
    icol = next((c for c in ID_COLUMNS if c in columns), None)
    items = []
    for n, row in enumerate(rows):
        text = str(row.get(tcol) or "").strip()
        label = str(row.get(lcol) or "").strip()
        if not text or not label:
            continue
        subject = str(row.get(scol) or "").strip() or None if scol else None
        item_id = str(row.get(icol) or "").strip() if icol else ""
        items.append(Item(item_id or str(n), text, label, subject))
    return items


def _load_folder(p: Path) -> list[Item]:
    seq, lab = p / "seq.in", p / "label"
    if not (seq.exists() and lab.exists()):
        raise ConfigError(f"{p}: a data folder needs `seq.in` and `label` files")
    texts = seq.read_text("utf-8").splitlines()
    labels = lab.read_text("utf-8").splitlines()
    if len(texts) != len(labels):
        raise ConfigError(f"{p}: seq.in has {len(texts)} lines but label has {len(labels)}")
    return [Item(str(n), t.strip(), lb.strip(), None)
            for n, (t, lb) in enumerate(zip(texts, labels)) if t.strip() and lb.strip()]
