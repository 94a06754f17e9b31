import json
import os
import subprocess
import sys

import pytest

TICKET = "I was charged twice for my order, card 4111 1111 1111 1111, call me on +1 415 555 0100"


@pytest.fixture
def clean_env(tmp_path, tiny_model_dir):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRIAGE_", "OPENAI_"))}
    env["TRIAGE_MODEL_DIR"] = str(tiny_model_dir)
    env["TRIAGE_INSTANCE_DIR"] = str(tmp_path / "instance")
    return env


def _run(args, env, cwd, stdin=None):
    out = subprocess.run([sys.executable, "-m", "plugin", *args], env=env, cwd=cwd, input=stdin,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_classify_without_llm(clean_env, tmp_path):
    r = _run(["classify", TICKET], clean_env, tmp_path)
    assert r["classifier"] == "fallback" and r["label"] == "billing"
    assert r["decision"] in ("auto_apply", "suggest", "needs_review") and 0 <= r["score"] <= 1
    assert r["redacted_text"] == "I was charged twice for my order, card [CARD_1], call me on [PHONE_1]"
    assert r["pii_counts"] == {"card": 1, "phone": 1} and r["prompt_tokens"] > 0


def test_classify_stdin_and_file(clean_env, tmp_path):
    r = _run(["classify", "-"], clean_env, tmp_path, stdin="<p>where is my parcel</p>")
    assert r["redacted_text"] == "where is my parcel" and r["label"] == "delivery"
    f = tmp_path / "t.txt"
    f.write_text("I forgot my password\n\nSent from my iPhone")
    r = _run(["classify", "--file", str(f)], clean_env, tmp_path)
    assert r["redacted_text"] == "I forgot my password"


def test_classify_with_local_openai_server(clean_env, tmp_path, openai_server):
    env = {**clean_env, "TRIAGE_LLM_BASE_URL": openai_server.base_url, "TRIAGE_LLM_MODEL": "sim-model",
           "OPENAI_API_KEY": "sk-test"}
    r = _run(["classify", TICKET], env, tmp_path)
    assert r["classifier"] == "llm" and r["label"] == "billing" and r["score_source"] == "logprobs"
    assert len(openai_server.requests) == 1
    assert openai_server.requests[0]["headers"]["authorization"] == "Bearer sk-test"
    assert "4111" not in json.dumps(openai_server.requests[0]["body"])
    openai_server.set_default("server_error")
    r = _run(["classify", TICKET], env, tmp_path)
    assert r["classifier"] == "fallback" and "server_error" in r["reason"]
