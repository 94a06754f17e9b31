"""Shared fixtures. Area-specific fixtures live in a conftest.py beside those tests."""

from __future__ import annotations

import itertools
import os
import sys
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


# --- PostgreSQL: the stores' second backend, a real server started here ----------------------------
sys.path.insert(0, str(Path(__file__).parent))  # pgserver (shared with bench/)
import pgserver  # noqa: E402

_DB_NAMES = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server():
    """One PostgreSQL server for the session (skips with the reason when none can be started)."""
    reason = pgserver.unavailable()
    if reason:
        pytest.skip(reason)
    server = pgserver.PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """The URL of a fresh PostgreSQL database of this test's own (dropped afterwards)."""
    from plugin.db import close_database

    name = f"triage_test_{os.getpid()}_{next(_DB_NAMES)}"
    url = postgres_server.create_database(name)
    yield url
    close_database(url)
    postgres_server.drop_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request) -> str | None:
    """Each backend of the stores in turn: None (the embedded SQLite default), then a fresh
    PostgreSQL database (``postgres_url``)."""
    return None if request.param == "sqlite" else request.getfixturevalue("postgres_url")


@pytest.fixture
def store_target(database_url, tmp_path) -> str | Path:
    """What ``EventStore(...)`` opens in a store test: this backend's URL, or a fresh SQLite file."""
    return database_url or tmp_path / "s.sqlite3"
