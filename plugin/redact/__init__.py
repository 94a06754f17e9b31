"""Remove personal data and secrets from ticket text before it leaves the process.

Recognisers (``patterns``: checksum-validated cards, IBANs, phones, e-mails, IPs, SSNs, secrets;
``names``: a NER model for people plus address patterns) each return character spans over the
same text. Overlapping spans merge into one, typed by the most specific kind among them (a name
inside an e-mail address is an e-mail), so nothing is half replaced. Each value becomes a numbered
placeholder that stays the same within a ticket (``[PERSON_1]`` … ``[PERSON_1]``), so the LLM can
still read who did what. Pure apart from loading the NER model once.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

from ..exceptions import ConfigError
from .names import find_addresses, find_people, load_ner
from .patterns import DEFAULT_PHONE_REGIONS, FINDERS, find_phones, iban_valid, luhn_valid

__all__ = ["ENTITY_TYPES", "DEFAULT_ENTITIES", "DEFAULT_PHONE_REGIONS", "PLACEHOLDER", "Redaction", "redact",
           "check_entities", "load_ner", "iban_valid", "luhn_valid"]

# Most specific first: on overlap, the earlier kind names the merged span.
ENTITY_TYPES: tuple[str, ...] = ("secret", "email", "iban", "card", "ssn", "ip", "address", "phone", "person")
DEFAULT_ENTITIES: tuple[str, ...] = ENTITY_TYPES
_NER_KINDS = frozenset({"person", "address"})
# What `redact` puts in a value's place ("[EMAIL_1]", "[PERSON_2]"), for readers of redacted text.
PLACEHOLDER = re.compile(r"\[[A-Z_]+_\d+\]")
_PRIORITY = {k: i for i, k in enumerate(ENTITY_TYPES)}


@dataclass(frozen=True)
class Redaction:
    """Redacted text and how many values of each kind were replaced."""

    text: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def check_entities(entities: Iterable[str]) -> tuple[str, ...]:
    """Validate a configured list of entity types (any order, no duplicates kept)."""
    chosen = tuple(dict.fromkeys(e.strip().lower() for e in entities))
    unknown = [e for e in chosen if e not in _PRIORITY]
    if unknown:
        raise ConfigError(f"unknown redaction entity type(s) {unknown}; choose from {', '.join(ENTITY_TYPES)}")
    return chosen


def redact(text: str, entities: Iterable[str] = DEFAULT_ENTITIES,
           phone_regions: Iterable[str] = DEFAULT_PHONE_REGIONS, *, keep_chars: int | None = None) -> Redaction:
    """Replace personal data and secrets with numbered placeholders such as ``[CARD_1]``.

    Args:
        text: normalised ticket text; every character of it is scanned.
        entities: the kinds to redact (``ENTITY_TYPES``); people and addresses need the NER model.
        phone_regions: ISO regions whose national phone formats are recognised; numbers written
            with ``+`` are recognised whatever the region.
        keep_chars: return only the text up to this offset (the caller's cut), extended to the end
            of a value that straddles it, so a value cut in half is never emitted: the caller
            scans past its cut and keeps the part before it.

    Returns:
        The redacted text and counts per kind (only kinds found appear).
    """
    kinds = check_entities(entities)
    spans: list[tuple[int, int, str]] = []
    for kind in kinds:
        if kind in FINDERS:
            spans += [(s, e, kind) for s, e in FINDERS[kind](text)]
    if "phone" in kinds:
        spans += [(s, e, "phone") for s, e in find_phones(text, tuple(phone_regions))]
    if _NER_KINDS & set(kinds) and _has_letters(text):
        doc = load_ner()(text)
        if "person" in kinds:
            spans += [(s, e, "person") for s, e in find_people(text, doc)]
        if "address" in kinds:
            spans += [(s, e, "address") for s, e in find_addresses(text, doc)]
    return _render(text, _merge(spans), keep_chars)


def _has_letters(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def _merge(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Union of overlapping spans, each typed by its most specific member."""
    merged: list[tuple[int, int, str]] = []
    for s, e, kind in sorted(spans):
        if e <= s:
            continue
        if merged and s < merged[-1][1]:
            ps, pe, pkind = merged[-1]
            merged[-1] = (ps, max(pe, e), min(pkind, kind, key=_PRIORITY.__getitem__))
        else:
            merged.append((s, e, kind))
    return merged


def _render(text: str, spans: list[tuple[int, int, str]], keep_chars: int | None) -> Redaction:
    limit = len(text) if keep_chars is None else min(len(text), keep_chars)
    numbers: dict[str, dict[str, int]] = {}
    counts: Counter[str] = Counter()
    out, last = [], 0
    for s, e, kind in spans:
        if s >= limit:
            break
        out.append(text[last:s])
        out.append(f"[{kind.upper()}_{_number(numbers.setdefault(kind, {}), kind, text[s:e])}]")
        counts[kind] += 1
        last = e
    out.append(text[last:max(last, limit)])
    return Redaction(text="".join(out), counts=dict(counts))


def _number(seen: dict[str, int], kind: str, value: str) -> int:
    """The same value gets the same number; a part of a name already seen gets that name's number."""
    key = _key(kind, value)
    if key not in seen and kind == "person":
        words = set(key.split())
        for known, n in seen.items():
            if words and words <= set(known.split()):
                return n
    return seen.setdefault(key, len(set(seen.values())) + 1)


def _key(kind: str, value: str) -> str:
    if kind in ("card", "phone", "iban", "ssn"):
        return re.sub(r"[^0-9A-Za-z]", "", value).upper()
    if kind == "person":
        return " ".join(re.findall(r"[^\W\d_]{2,}", value.casefold()))
    return value.casefold()
