"""Threshold choice, `triage calibrate --write`, and `triage taxonomy lint`."""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

import pytest

from plugin.cli import main
from plugin.evaluation import Prediction
from plugin.taxonomy import load_taxonomy, parse_taxonomy
from plugin.taxonomy_lint import lint
from plugin.thresholds import cascade_threshold, decision_thresholds


def _p(gold: str, label: str, score: float) -> Prediction:
    return Prediction(id=f"{gold}{label}{score}", gold=gold, label=label, score=score,
                      decision="suggest", classifier="fallback")


def test_decision_thresholds_reach_target(taxonomy):
    # 10 billing predictions: right at high scores, wrong below 0.7
    preds = [_p("billing", "billing", s) for s in (0.99, 0.97, 0.95, 0.9, 0.85, 0.8, 0.75)]
    preds += [_p("refund", "billing", s) for s in (0.7, 0.65, 0.6)]
    preds += [_p("other", "other", 0.99)] * 5  # "other" never governs auto_apply
    c = decision_thresholds(preds, taxonomy, target_precision=0.95, min_items=3)
    assert c.auto_apply_reached and c.auto_apply == 0.75
    assert c.auto_precision == 1.0 and c.auto_coverage == pytest.approx(7 / 15)
    assert c.suggest <= c.auto_apply
    impossible = decision_thresholds([_p("refund", "billing", 0.9)] * 6, taxonomy, 0.95, min_items=3)
    assert not impossible.auto_apply_reached and impossible.auto_apply == 1.0


def test_cascade_threshold_by_share_and_accuracy():
    preds = [_p("a", "a", s) for s in (0.99, 0.95, 0.9, 0.8)] + [_p("a", "b", s) for s in (0.6, 0.5)]
    by_acc = cascade_threshold(preds, target_accuracy=1.0)
    assert by_acc.threshold == 0.8 and by_acc.fallback_accuracy == 1.0
    assert by_acc.llm_share == pytest.approx(2 / 6)
    by_share = cascade_threshold(preds, llm_share=0.5)
    assert by_share.llm_share == pytest.approx(0.5)
    with pytest.raises(ValueError):
        cascade_threshold(preds)


def test_calibrate_writes_taxonomy(clean_env, tiny_csv: Path, tmp_path: Path, capsys):
    tax_file = tmp_path / "taxonomy.toml"
    shutil.copy(str(resources.files("plugin.defaults").joinpath("taxonomy.toml")), tax_file)
    before = tax_file.read_text()
    assert main(["calibrate", "--data", str(tiny_csv), "--classifier", "fallback", "--taxonomy", str(tax_file),
                 "--target-precision", "0.9", "--min-items", "3", "--write", "--json", "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out)
    t = load_taxonomy(tax_file).thresholds
    assert (t.auto_apply, t.suggest) == (out["thresholds"]["auto_apply"], out["thresholds"]["suggest"])
    assert "# score >= this" in tax_file.read_text()  # comments kept
    assert tax_file.read_text() != before or (t.auto_apply, t.suggest) == (0.85, 0.6)


def test_calibrate_refuses_to_write_bundled_default(clean_env, tiny_csv: Path, capsys):
    assert main(["calibrate", "--data", str(tiny_csv), "--classifier", "fallback", "--write", "--no-progress"]) == 2
    assert "taxonomy file" in capsys.readouterr().err


def test_lint_rules(taxonomy):
    assert [f for f in lint(taxonomy) if f.level != "info"] == []
    summary = {"confusion": {"labels": ["billing", "refund", "other"],
                             "matrix": [[6, 4, 0], [3, 7, 0], [0, 0, 5]]}, "other_rate": 0.2}
    counts = {name: 50 for name in taxonomy.names} | {"refund": 3}
    codes = {f.code: f for f in lint(taxonomy, summary, counts)}
    assert "confused-categories" in codes and "billing and refund" in codes["confused-categories"].message
    assert codes["other-high"].level == "warn"
    assert "refund has 3" in codes["few-training-examples"].message
    assert "few-other-examples" not in codes  # "other" has 50 labelled rows here
    no_other = {f.code: f for f in lint(taxonomy, label_counts=counts | {"other": 2})}
    assert no_other["few-other-examples"].level == "info" and '"other" has 2' in no_other["few-other-examples"].message
    assert lint(taxonomy, other_rate=0.31)[0].code == "other-too-high"
    assert lint(taxonomy, other_rate=0.31)[0].level == "audit"
    twins = parse_taxonomy("""other = "other"
[[categories]]
name = "card_lost"
description = "Lost or stolen card, block the card"
examples = ["I lost my card", "my card was stolen"]
[[categories]]
name = "card_stolen"
description = "Stolen or lost card, block card"
examples = ["my card got stolen", "lost card"]
[[categories]]
name = "other"
description = "anything else"
""")
    assert [f.code for f in lint(twins)] == ["similar-descriptions"]


def test_taxonomy_cli(clean_env, tiny_csv: Path, tmp_path: Path, capsys):
    out = tmp_path / "from_data.toml"
    assert main(["taxonomy", "from-data", "--data", str(tiny_csv), "--out", str(out)]) == 0
    tax = load_taxonomy(out)
    assert {"payment", "refund", "delivery", "other"} <= set(tax.names)
    assert tax.label_for_source("SHIPPING_ADDRESS") == "shipping_address"
    capsys.readouterr()
    rc = main(["taxonomy", "lint", "--data", str(tiny_csv), "--classifier", "fallback", "--json", "--no-progress"])
    findings = json.loads(capsys.readouterr().out)
    # 16 tickets spread over 7 categories: every category is below the minimum of labelled examples
    assert rc == 1 and any(f["code"] == "few-training-examples" for f in findings)
