"""Cascade tuning end to end through the local OpenAI server: `triage eval --classifier cascade`
accounting (LLM share, tokens spent as billed, saved vs LLM-only), the retrieval index a retrain
writes beside the promoted model, and `triage calibrate --write` of the cascade threshold."""

from __future__ import annotations

import json
from pathlib import Path

from plugin import registry
from plugin.cli import main
from plugin.config import load_settings
from plugin.pipeline import Pipeline
from plugin.retrieval import default_index_dir, index_exists

from .conftest import write_csv
from .test_retrain import GOOD, WEAK, synthetic


def _run_json(capsys, argv: list[str]) -> dict:
    capsys.readouterr()
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_eval_cascade_reports_llm_share_spend_and_savings(llm_env, tiny_csv: Path, tmp_path: Path, monkeypatch,
                                                          capsys):
    # the fallback's scores on these items decide a threshold that splits them
    preds_file = tmp_path / "fb.jsonl"
    _run_json(capsys, ["eval", "--data", str(tiny_csv), "--classifier", "fallback", "--json", "--no-progress",
                       "--predictions", str(preds_file)])
    scores = [json.loads(line)["score"] for line in preds_file.read_text().splitlines()]
    threshold = max(scores)
    assert min(scores) < threshold, "precondition: the bundled model is unsure on some items"
    # few-shot examples on: the index of the same tickets, so the LLM prompts carry examples
    index_dir = tmp_path / "index"
    assert main(["index", "--data", str(tiny_csv), "--out", str(index_dir)]) == 0
    monkeypatch.setenv("TRIAGE_INDEX_DIR", str(index_dir))
    monkeypatch.setenv("TRIAGE_FEWSHOT_K", "4")
    llm_env.reset()

    html_out = tmp_path / "cascade.html"
    s = _run_json(capsys, ["eval", "--data", str(tiny_csv), "--classifier", "cascade", "--cascade-threshold",
                           str(threshold), "--json", "--no-progress", "--html", str(html_out)])
    n, requests = s["n"], llm_env.requests
    assert 0 < s["llm_share"] < 1
    assert s["llm_calls"] == len(requests) == sum(sc < threshold for sc in scores)
    assert s["llm_share"] == len(requests) / n
    assert all("<example label=" in r["body"]["messages"][-1]["content"] for r in requests)
    # tokens spent are exactly what the server billed, nothing for the items the fallback kept
    assert s["tokens"]["prompt"] == sum(r["usage"]["prompt_tokens"] for r in requests)
    assert s["tokens"]["completion"] == sum(r["usage"]["completion_tokens"] for r in requests)
    prices = s["cost"]
    spent = (s["tokens"]["prompt"] * prices["price_prompt_per_1k"]
             + s["tokens"]["completion"] * prices["price_completion_per_1k"]) / 1000
    assert abs(prices["total"] - spent) < 1e-12
    # saved vs LLM-only: the kept items' would-be prompts plus the mean completion of answered ones
    sv = s["savings"]
    kept = n - len(requests)
    mean_completion = s["tokens"]["completion"] / len(requests)
    assert sv["saved"]["completion"] == round(mean_completion * kept)
    assert sv["saved"]["prompt"] > 0 and sv["saved"]["tokens"] > 0 and sv["saved"]["cost"] > 0
    assert sv["llm_only_estimate"]["tokens"] == s["tokens"]["prompt"] + s["tokens"]["completion"] + \
        sv["saved"]["tokens"]
    assert abs(sv["llm_only_estimate"]["cost"] - (spent + sv["saved"]["cost"])) < 1e-12
    assert 0 < sv["saved"]["share"] < 1
    assert s["latency_ms"]["p50"] > 0 and s["latency_ms"]["p95"] >= s["latency_ms"]["p50"]
    assert s["latency_ms_by_path"]["llm"]["p50"] > 0 and s["meta"]["cascade_threshold"] == threshold
    page = html_out.read_text()
    assert "reached the LLM" in page and "saved vs LLM-only" in page

    assert main(["eval", "--data", str(tiny_csv), "--classifier", "cascade", "--cascade-threshold",
                 str(threshold), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert f"reached the LLM {100 * s['llm_share']:.1f}% ({s['llm_calls']}/{n})" in text
    assert "saved vs LLM-only (estimate)" in text


def test_llm_failures_still_count_as_spend(llm_env, tiny_csv: Path, capsys):
    llm_env.set_default("invalid_json")  # answered (and billed) but unusable: the fallback stands
    s = _run_json(capsys, ["eval", "--data", str(tiny_csv), "--classifier", "cascade", "--cascade-threshold",
                           "1.0", "--json", "--no-progress"])
    billed = [r for r in llm_env.requests if "usage" in r]
    assert s["llm_failures"] == s["llm_calls"] > 0 and s["classifiers"] == {"fallback": s["n"]}
    assert s["tokens"]["prompt"] == sum(r["usage"]["prompt_tokens"] for r in billed) > 0


def test_retrain_writes_the_index_the_pipeline_uses_and_rollback_restores_it(clean_env, tmp_path: Path,
                                                                             openai_server, capsys):
    instance = tmp_path / "inst"
    settings = load_settings({"instance_dir": instance}, env={})
    first = write_csv(tmp_path / "first.csv", synthetic(20, seed=1))
    out1 = _run_json(capsys, ["retrain", "--data", str(first), "--instance-dir", str(instance), "--json",
                                 *WEAK, "--tolerance", "1"])
    v1 = registry.current_version(settings)
    assert out1["promoted"] and out1["index_dir"] == str(instance / "models" / v1 / "index")
    assert index_exists(out1["index_dir"]) and out1["n_index"] == out1["n_train"] + out1["n_holdout"]

    # a second dataset with a word the first never had; promoted, its index goes live with it
    second = write_csv(tmp_path / "second.csv",
                       synthetic(20, seed=2) + [(f"zorblax refund for order {i}", "REFUND") for i in range(10)])
    out2 = _run_json(capsys, ["retrain", "--data", str(second), "--instance-dir", str(instance), "--json",
                                 *GOOD, "--tolerance", "1"])
    v2 = registry.current_version(settings)
    assert out2["promoted"] and v2 != v1
    assert default_index_dir(settings).resolve() == (instance / "models" / v2 / "index").resolve()

    llm = settings.model_copy(update={"classifier": "cascade", "cascade_threshold": 1.0, "fewshot_k": 3,
                                      "llm_base_url": openai_server.base_url, "llm_model": "sim-1"})
    r = Pipeline.from_settings(llm).classify("zorblax broke, reimburse me")
    assert r.llm_called and r.model_version == "llm:sim-1"
    user = openai_server.requests[-1]["body"]["messages"][-1]["content"]
    assert '<example label="refund">zorblax refund for order' in user.split("<ticket>")[0]  # retrieved

    # rollback: the previous model's own index (no "zorblax" there) is the one used again
    assert main(["rollback", "--instance-dir", str(instance)]) == 0
    assert default_index_dir(settings).resolve() == (instance / "models" / v1 / "index").resolve()
    Pipeline.from_settings(llm).classify("zorblax broke, reimburse me")
    user = openai_server.requests[-1]["body"]["messages"][-1]["content"]
    assert "<example" in user and "zorblax refund" not in user


def test_calibrate_writes_cascade_threshold_to_instance_config(clean_env: Path, tiny_csv: Path, capsys):
    clean_env.mkdir(parents=True, exist_ok=True)
    config = clean_env / "triage.toml"
    config.write_text('# my settings\nllm_model = "gpt-4o-mini"\ncascade_threshold = 0.5\n')
    out = _run_json(capsys, ["calibrate", "--data", str(tiny_csv), "--classifier", "fallback",
                             "--cascade-llm-share", "0.2", "--write", "--json", "--no-progress"])
    chosen = out["cascade"]["threshold"]
    assert out["cascade_written_to"] == str(config) and "written_to" not in out  # bundled taxonomy kept
    assert chosen != 0.5 and 0 < out["cascade"]["llm_share"] < 1
    text = config.read_text()
    assert text.count("cascade_threshold") == 1 and "# my settings" in text
    settings = load_settings()
    assert settings.cascade_threshold == chosen and settings.llm_model == "gpt-4o-mini"
    # text output, and a second pick replaces the value rather than adding a line
    assert main(["calibrate", "--data", str(tiny_csv), "--classifier", "fallback", "--cascade-accuracy", "1.0",
                 "--write", "--no-progress"]) == 0
    assert "wrote cascade_threshold" in capsys.readouterr().out
    again = _run_json(capsys, ["calibrate", "--data", str(tiny_csv), "--classifier", "fallback",
                               "--cascade-accuracy", "1.0", "--write", "--json", "--no-progress"])
    assert config.read_text().count("cascade_threshold") == 1
    assert load_settings().cascade_threshold == again["cascade"]["threshold"]
