"""Which tags we write, and how they merge with the ticket's own tags. Pure.

Rule: keep every tag an agent (or anything else) set; drop only *our own* tags that this outcome
no longer wants (a stale category from an earlier classification); add the wanted ones.
"""

from __future__ import annotations

import re

from plugin.result import Decision

_UNSAFE = re.compile(r"[^a-z0-9_:-]+")


def safe_tag(value: str) -> str:
    """Lowercase, spaces to ``_``, anything outside ``[a-z0-9_:-]`` removed, ``_`` runs collapsed."""
    return re.sub(r"_{2,}", "_", _UNSAFE.sub("", "_".join(value.strip().lower().split()))).strip("_")


def category_tag(prefix: str, label: str) -> str:
    return safe_tag(prefix + label)


def suggest_tag(prefix: str, label: str) -> str:
    return safe_tag(f"{prefix}suggest_{label}")


def wanted_tags(label: str, decision: Decision | str, *, prefix: str, guard_tag: str,
                needs_review_tag: str) -> list[str]:
    """Tags for one outcome: the category (auto-apply), a suggestion, or needs-review; plus the guard."""
    decision = Decision(decision)
    if decision is Decision.AUTO_APPLY:
        first = category_tag(prefix, label)
    elif decision is Decision.SUGGEST:
        first = suggest_tag(prefix, label)
    else:
        first = safe_tag(needs_review_tag)
    return [first, safe_tag(guard_tag)]


def owned_tags(labels: list[str] | tuple[str, ...], *, prefix: str, needs_review_tag: str) -> set[str]:
    """Every outcome tag we might have written before (the guard tag is never dropped)."""
    owned = {safe_tag(needs_review_tag)}
    for label in labels:
        owned |= {category_tag(prefix, label), suggest_tag(prefix, label)}
    return owned


def merge_tags(current: list[str], wanted: list[str], owned: set[str]) -> list[str]:
    """Current tags minus our stale ones, plus the wanted ones; order kept, no duplicates."""
    wanted_set = set(wanted)
    out: list[str] = []
    for tag in current:
        if tag in owned and tag not in wanted_set:
            continue
        if tag not in out:
            out.append(tag)
    out.extend(t for t in wanted if t not in out)
    return out
