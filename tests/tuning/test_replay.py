"""Record once against the local OpenAI server, then replay with the network made impossible."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from plugin.cli import main
from simulators.openai_server import OpenAISimulator


def _eval(capsys, data: Path, *extra: str) -> dict:
    capsys.readouterr()
    assert main(["eval", "--data", str(data), "--classifier", "llm", "--json", "--no-progress",
                 "--predictions", str(data.parent / "preds.jsonl"), *extra]) == 0
    summary = json.loads(capsys.readouterr().out)
    preds = [json.loads(line) for line in (data.parent / "preds.jsonl").read_text().splitlines()]
    return {"summary": summary, "labels": [(p["id"], p["label"], p["score"]) for p in preds]}


def _forbid_network(monkeypatch: pytest.MonkeyPatch) -> list:
    attempts: list = []

    def refuse(self, address, *a, **k):
        attempts.append(address)
        raise OSError("network disabled by test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


def test_replay_makes_zero_network_calls(clean_env, tiny_csv: Path, tmp_path: Path, monkeypatch, capsys):
    cassettes = tmp_path / "cassettes"
    monkeypatch.setenv("TRIAGE_LLM_MODEL", "sim-1")
    monkeypatch.setenv("TRIAGE_LLM_API_KEY", "secret-test-key")
    monkeypatch.setenv("TRIAGE_FEWSHOT_K", "0")
    with OpenAISimulator() as server:
        monkeypatch.setenv("TRIAGE_LLM_BASE_URL", server.base_url)
        recorded = _eval(capsys, tiny_csv, "--record", str(cassettes))
        assert len(server.requests) == recorded["summary"]["n"]
        # recording again replays what is already there: no new requests
        again = _eval(capsys, tiny_csv, "--record", str(cassettes))
        assert len(server.requests) == recorded["summary"]["n"]
        assert again["labels"] == recorded["labels"]
    cassette = cassettes / "llm_calls.yaml"
    assert "secret-test-key" not in cassette.read_text()  # the key is filtered out

    attempts = _forbid_network(monkeypatch)
    # the guard works: without replay the LLM cannot be reached and every answer falls back
    blocked = _eval(capsys, tiny_csv)
    assert attempts and blocked["summary"]["llm_failures"] == blocked["summary"]["n"]
    attempts.clear()

    replayed = _eval(capsys, tiny_csv, "--replay", str(cassettes))
    assert attempts == []  # zero connection attempts
    assert replayed["summary"]["classifiers"] == {"llm": recorded["summary"]["n"]}
    assert replayed["summary"]["llm_failures"] == 0
    assert replayed["labels"] == recorded["labels"]
    assert replayed["summary"]["tokens"] == recorded["summary"]["tokens"]


def test_replay_misses_a_changed_prompt_without_network(clean_env, tiny_csv: Path, tmp_path: Path,
                                                        monkeypatch, capsys):
    cassettes = tmp_path / "cassettes"
    monkeypatch.setenv("TRIAGE_LLM_MODEL", "sim-1")
    monkeypatch.setenv("TRIAGE_FEWSHOT_K", "0")
    with OpenAISimulator() as server:
        monkeypatch.setenv("TRIAGE_LLM_BASE_URL", server.base_url)
        _eval(capsys, tiny_csv, "--record", str(cassettes))
    attempts = _forbid_network(monkeypatch)
    capsys.readouterr()
    rc = main(["eval", "--data", str(tiny_csv), "--classifier", "llm", "--no-progress",
               "--replay", str(cassettes), "--prompt", "classify_v2"])
    assert rc == 2 and "not in" in capsys.readouterr().err  # a changed prompt misses, loudly
    assert attempts == []


def test_replay_without_cassette_is_an_error(clean_env, tiny_csv: Path, tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("TRIAGE_LLM_MODEL", "sim-1")
    monkeypatch.setenv("TRIAGE_LLM_BASE_URL", "http://127.0.0.1:9/v1")
    assert main(["eval", "--data", str(tiny_csv), "--classifier", "llm", "--no-progress",
                 "--replay", str(tmp_path / "nothing")]) == 2
    assert "--record" in capsys.readouterr().err
