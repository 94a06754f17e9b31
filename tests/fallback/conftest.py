"""Small real datasets for fast fallback-model tests (a few hundred Bitext rows)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from plugin.datasets import Item, load_labelled, map_to_taxonomy
from plugin.taxonomy import load_taxonomy


@pytest.fixture(scope="session")
def bitext_items(shared_data: Path) -> list[Item]:
    """~1,000 Bitext rows mapped to the default taxonomy (validation + test splits)."""
    folder = shared_data / "bitext-customer-support"
    tax = load_taxonomy()
    items = []
    for pattern in ("*Validation*.csv", "*Testing*.csv"):
        items += map_to_taxonomy(load_labelled(next(folder.glob(pattern))), tax)
    random.Random(0).shuffle(items)
    return items


@pytest.fixture(scope="session")
def small_split(bitext_items: list[Item]) -> tuple[list[Item], list[Item]]:
    return bitext_items[:1200], bitext_items[1200:]
