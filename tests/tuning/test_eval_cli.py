"""`triage eval` / `triage compare` end to end on a tiny file (fallback, and LLM via the simulator)."""

from __future__ import annotations

import json
from pathlib import Path

from plugin.cli import main


def _run_json(capsys, argv: list[str]) -> dict:
    capsys.readouterr()
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_eval_fallback_json_and_html(clean_env, tiny_csv: Path, tmp_path: Path, capsys):
    html_out = tmp_path / "report.html"
    s = _run_json(capsys, ["eval", "--data", str(tiny_csv), "--classifier", "fallback", "--json",
                           "--no-progress", "--html", str(html_out)])
    assert s["n"] == len(tiny_csv.read_text().splitlines()) - 1
    assert s["classifiers"] == {"fallback": s["n"]}
    # the bundled model is trained on Bitext; these easy tickets must mostly be right
    assert s["accuracy"] >= 0.7
    assert s["tokens"]["prompt"] == 0 and s["cost"]["total"] == 0.0  # the fallback sends nothing
    cm = s["confusion"]["matrix"]
    assert sum(map(sum, cm)) == s["n"]
    assert sum(cm[i][i] for i in range(len(cm))) == round(s["accuracy"] * s["n"])
    page = html_out.read_text()
    assert page.count("<svg") >= 3 and 'class="confusion"' in page and 'class="reliability"' in page
    assert "<script" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_eval_llm_counts_tokens_and_cost(llm_env, tiny_csv: Path, capsys):
    s = _run_json(capsys, ["eval", "--data", str(tiny_csv), "--classifier", "llm", "--json", "--no-progress"])
    assert s["classifiers"] == {"llm": s["n"]}
    assert len(llm_env.requests) == s["n"]
    assert s["tokens"]["prompt"] > 0 and s["tokens"]["completion"] > 0
    expected = (s["tokens"]["prompt"] * s["cost"]["price_prompt_per_1k"]
                + s["tokens"]["completion"] * s["cost"]["price_completion_per_1k"]) / 1000
    assert abs(s["cost"]["total"] - expected) < 1e-12
    assert s["prompt_versions"] == ["classify_v1"]


def test_compare_two_prompts_and_classifiers(llm_env, tiny_csv: Path, capsys):
    out = _run_json(capsys, ["compare", "--data", str(tiny_csv), "--json", "--no-progress",
                             "--variant", "name=llm-v2,classifier=llm,prompt=classify_v2",
                             "--variant", "name=fb,classifier=fallback"])
    assert set(out["variants"]) == {"llm-v2", "fb"}
    assert out["variants"]["llm-v2"]["prompt_versions"] == ["classify_v2"]
    (pair,) = out["pairs"]
    acc_a, acc_b, n = pair["accuracy_a"], pair["accuracy_b"], out["variants"]["fb"]["n"]
    # McNemar's discordant counts explain the accuracy difference exactly
    assert round((acc_a - acc_b) * n) == pair["b"] - pair["c"]
    for d in out["disagreements"]:
        assert d["labels"][0] != d["labels"][1]
    text_rc = main(["compare", "--data", str(tiny_csv), "--no-progress", "--prompts", "classify_v1", "classify_v2"])
    assert text_rc == 0
    assert "McNemar" in capsys.readouterr().out


def test_eval_taxonomy_auto_keeps_model_classes_and_writes_nothing(clean_env, tmp_path: Path, capsys,
                                                                  monkeypatch):
    """A subset file (2 of the model's 9 classes) is measured on the model's own classes: a
    delivery answer stays `delivery`, it is not folded into `other`; no temp folder is left."""
    import tempfile

    from plugin.fallback import load_fallback

    from .conftest import write_csv

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    data = write_csv(tmp_path / "subset.csv", [
        ("I was charged twice, please fix the payment on my invoice", "billing"),
        ("Where is my parcel? The delivery is late and tracking shows nothing", "billing"),
        ("When will my refund arrive on my card?", "refund"),
        ("My package never arrived, where is the shipment?", "refund"),
    ])
    s = _run_json(capsys, ["eval", "--data", str(data), "--classifier", "fallback", "--taxonomy", "auto",
                           "--json", "--no-progress", "--predictions", str(tmp_path / "p.jsonl")])
    classes = set(load_fallback("default").classes_)
    assert classes <= set(s["confusion"]["labels"])
    preds = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    delivery_answers = [p for p in preds if "arrive" in p["text"] and "refund" not in p["text"]
                        or "parcel" in p["text"]]
    assert delivery_answers and all(p["label"] == "delivery" for p in delivery_answers)
    assert s["meta"]["taxonomy"] == "auto"
    assert list(scratch.iterdir()) == []
