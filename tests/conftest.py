"""Shared fixtures. Area-specific fixtures live in a conftest.py beside those tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugin.config import Settings, load_settings
from plugin.taxonomy import Taxonomy, load_taxonomy

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture
def taxonomy() -> Taxonomy:
    return load_taxonomy()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings isolated from the developer's environment, with a fresh instance dir."""
    return load_settings({"instance_dir": tmp_path / "instance"}, env={})


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def openai_server():
    """A local OpenAI-compatible server on an ephemeral 127.0.0.1 port (see simulators/openai_server.py).

    ``openai_server.base_url`` goes to the client; ``.fail_next("rate_limit", ...)`` scripts faults;
    ``.requests`` records every request body.
    """
    from simulators.openai_server import OpenAISimulator

    with OpenAISimulator(delay_s=2.0, retry_after_s=0.05) as server:
        yield server
