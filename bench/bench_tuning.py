"""BANKING77 evaluation figures: fallback eval + prompt comparison via the local OpenAI simulator.

    python bench/bench_tuning.py [--llm-limit N] [--keep DIR]

Steps (all in a temp dir, nothing written to the repo):
1. seeded stratified split of ../shared/data/banking77/train.csv (80/20, seed 0);
2. a starter taxonomy from the labels (`triage taxonomy from-data`);
3. a banking77 fallback trained on the 80% (`triage train`);
4. `triage eval` of that fallback on the 20% (JSON + HTML report);
5. `triage compare` of prompts classify_v1 vs classify_v2 (and the fallback) through the local OpenAI simulator on
   a seeded sample of the 20%, recorded with vcrpy, then replayed (network off) to show replay
   costs nothing. The simulator's "LLM" is a deterministic keyword model, so its accuracy is
   plumbing, not a statement about any real LLM.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "banking77" / "train.csv"


def cli(*argv: str) -> tuple[int, str, float]:
    from plugin.cli import main

    buf = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(buf):
        rc = main(list(argv))
    return rc, buf.getvalue(), time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--llm-limit", type=int, default=300, help="items for the LLM comparison")
    ap.add_argument("--keep", help="copy the reports here")
    args = ap.parse_args()
    if not DATA.exists():
        print(f"skip: {DATA} not found")
        return 0
    from plugin.datasets import load_labelled, stratified_split, write_labelled
    from simulators.openai_server import OpenAISimulator

    work = Path(tempfile.mkdtemp(prefix="bench-tuning-"))
    for key in [k for k in os.environ if k.startswith(("TRIAGE_", "OPENAI_"))]:
        del os.environ[key]
    os.environ["TRIAGE_INSTANCE_DIR"] = str(work / "instance")
    train, val = stratified_split(load_labelled(DATA), 0.2, 0)
    write_labelled(work / "train.csv", train)
    print(f"BANKING77 train.csv: {len(train)} train / {len(val)} validation (seed 0)")
    tax = work / "b77.toml"
    cli("taxonomy", "from-data", "--data", str(DATA), "--out", str(tax))
    rc, out, secs = cli("train", "--data", str(work / "train.csv"), "--taxonomy", str(tax),
                        "--out", str(work / "model"), "--quiet")
    assert rc == 0, out
    print(f"fallback trained in {secs:.1f}s")
    common = ["--data", str(DATA), "--split", "val", "--seed", "0", "--taxonomy", str(tax), "--no-progress"]
    rc, out, secs = cli("eval", *common, "--classifier", "fallback", "--model-dir", str(work / "model"),
                        "--json", "--html", str(work / "eval_fallback.html"))
    s = json.loads(out)
    print(f"eval fallback: n={s['n']} accuracy={s['accuracy']:.4f} macro_f1={s['macro_f1']:.4f} "
          f"ece={s['reliability']['ece']:.4f} auto_applied={s['decisions'].get('auto_apply', 0):.3f} "
          f"at precision {s['auto_apply_precision'] or 0:.4f} needs_review={s['needs_review_rate']:.3f} "
          f"latency p50={s['latency_ms']['p50']:.2f}ms p95={s['latency_ms']['p95']:.2f}ms ({secs:.1f}s)")
    print("  most confused: " + "; ".join(f"{m['gold']}->{m['predicted']} {m['count']}"
                                          for m in s["most_confused"][:5]))
    with OpenAISimulator() as sim:
        os.environ.update({"TRIAGE_LLM_BASE_URL": sim.base_url, "TRIAGE_LLM_MODEL": "sim-1",
                           "TRIAGE_LLM_API_KEY": "bench", "TRIAGE_FEWSHOT_K": "0"})
        llm = [*common, "--limit", str(args.llm_limit), "--model-dir", str(work / "model"),
               "--prompts", "classify_v1", "classify_v2", "--variant", "name=fallback,classifier=fallback", "--json"]
        rc, out, secs = cli("compare", *llm, "--record", str(work / "cassettes"), "--html", str(work / "compare"))
        requests = len(sim.requests)
    c = json.loads(out)
    for name, v in c["variants"].items():
        print(f"compare {name}: n={v['n']} accuracy={v['accuracy']:.4f} macro_f1={v['macro_f1']:.4f} "
              f"tokens/item={v['tokens']['prompt_per_item']:.0f}+{v['tokens']['completion_per_item']:.0f} "
              f"cost/1k tickets=${v['cost']['per_1k_tickets']:.4f} p50={v['latency_ms']['p50']:.1f}ms "
              f"p95={v['latency_ms']['p95']:.1f}ms")
    for p in c["pairs"]:
        print(f"  McNemar {p['a']} vs {p['b_name']}: b={p['b']} c={p['c']} p_exact={p['p_exact']:.4g} -> {p['verdict']}")
    print(f"  disagreements: {len(c['disagreements'])}; recorded {requests} LLM requests in {secs:.1f}s")
    # replay with the simulator stopped: same numbers, zero requests
    rc, out2, secs2 = cli("compare", *llm, "--replay", str(work / "cassettes"))
    same = json.loads(out2)["pairs"] == c["pairs"]
    print(f"  replay (simulator stopped): {secs2:.1f}s, identical results: {same}")
    if args.keep:
        keep = Path(args.keep)
        keep.mkdir(parents=True, exist_ok=True)
        for f in work.glob("*.html"):
            shutil.copy(f, keep / f.name)
        print(f"reports copied to {keep}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
