"""Fixtures for the tuning/evaluation tests: a tiny labelled file and an LLM-configured env."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

# A handful of hand-written tickets labelled with Bitext-style categories (mapped by the taxonomy).
TINY_ROWS = [
    ("I was charged twice for my order, please fix the payment", "PAYMENT"),
    ("Where can I download the invoice for my last purchase?", "INVOICE"),
    ("Which payment methods do you accept?", "PAYMENT"),
    ("I want my money back for the broken blender", "REFUND"),
    ("When will my refund arrive on my card?", "REFUND"),
    ("Can I get a refund for the item I returned?", "REFUND"),
    ("My parcel has not arrived yet, where is the delivery?", "DELIVERY"),
    ("How long does shipping take to Canada?", "DELIVERY"),
    ("I need to change the shipping address of my parcel", "SHIPPING_ADDRESS"),
    ("I need to cancel my order from yesterday", "ORDER"),
    ("How do I add another item to my order?", "ORDER"),
    ("I forgot my password and cannot log in to my account", "ACCOUNT"),
    ("Please delete my account and profile", "ACCOUNT"),
    ("Unsubscribe me from the newsletter", "NEWSLETTER"),
    ("I want to file a complaint about your rude service", "FEEDBACK"),
    ("Can I speak to a real person from customer service?", "CONTACT"),
]


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["utterance", "category"])
        w.writerows(rows)
    return path


@pytest.fixture
def tiny_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "tiny.csv", TINY_ROWS)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No TRIAGE_* / OPENAI_* from the developer's shell; a fresh instance dir; cwd = tmp."""
    import os

    for key in list(os.environ):
        if key.startswith(("TRIAGE_", "OPENAI_")):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    instance = tmp_path / "instance"
    monkeypatch.setenv("TRIAGE_INSTANCE_DIR", str(instance))
    return instance


@pytest.fixture
def llm_env(clean_env: Path, monkeypatch: pytest.MonkeyPatch, openai_server) -> object:
    """Settings point the LLM at the local OpenAI simulator (no few-shot index)."""
    monkeypatch.setenv("TRIAGE_LLM_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("TRIAGE_LLM_MODEL", "sim-1")
    monkeypatch.setenv("TRIAGE_LLM_API_KEY", "test-key")
    monkeypatch.setenv("TRIAGE_FEWSHOT_K", "0")
    return openai_server
