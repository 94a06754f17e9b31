"""The main path against a real LLM: zero-shot, retrieved few-shot, the cascade, and the fallback alone.

Usage::

    python bench/bench_llm.py                       # starts llama-server + SmolLM2 (`make llm` first)
    python bench/bench_llm.py --n 100 --sets banking77
    TRIAGE_LLM_API_KEY=... python bench/bench_llm.py --base-url https://api.openai.com/v1 --model gpt-4o-mini
    python bench/bench_llm.py --record runs/smollm2  # keep the calls; --replay runs/smollm2 re-prints offline

Two evaluation sets, each a seeded sample of a validation split the models never trained on:

* ``default``: the Bitext customer-support validation CSV (CDLA-Sharing-1.0), rows mapped onto
  the built-in 9-category taxonomy by its ``source_labels``; fallback = the bundled model;
  few-shot examples retrieved from the Bitext training CSV.
* ``banking77``: BANKING77 (CC BY 4.0) ``train.csv``, 80/20 stratified split (seed 0), all 77
  intents in the taxonomy; fallback = a HashBagClassifier trained on the 80 %; few-shot examples
  retrieved from the 80 %.

Rows: the fallback alone, the LLM zero-shot, the LLM with retrieved examples, and the cascade
(fallback first, the LLM with examples for the rest) at the threshold ``triage calibrate`` would
pick on a disjoint calibration sample (fallback answers kept at >= ``--cascade-accuracy``).
Columns: accuracy, macro-F1, schema-valid rate (answers that were JSON with a taxonomy label and a
score), ECE of the score used (log-probabilities when the server returns them) and of the model's
self-reported score, share sent to the LLM, seconds per ticket, prompt/completion tokens per second
of LLM time, and the prompt tokens saved against LLM-only.

Every number goes through the production code: ``Pipeline`` -> ``LLMClassifier`` -> the real
HTTP client, and ``plugin.evaluation.summarize``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plugin import local_llm  # noqa: E402
from plugin.datasets import Item, category_name, load_labelled, stratified_split  # noqa: E402
from plugin.datasets import taxonomy_toml_from_labels  # noqa: E402
from plugin.evaluation import PipelineClassifier, Prices, predict, summarize  # noqa: E402
from plugin.fallback import load_fallback  # noqa: E402
from plugin.llm import LLMClassifier, build_client  # noqa: E402
from plugin.pipeline import Pipeline  # noqa: E402
from plugin.replay import recording  # noqa: E402
from plugin.retrieval import RetrievalIndex  # noqa: E402
from plugin.taxonomy import Taxonomy, load_taxonomy, parse_taxonomy  # noqa: E402
from plugin.thresholds import cascade_threshold  # noqa: E402
from tflite_fallback.build_default import bitext_items  # noqa: E402
from tflite_fallback.model import HashBagClassifier  # noqa: E402

FREE = Prices(0.0, 0.0)
BITEXT = Path("bitext-customer-support")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--sets", default="default,banking77", help="comma-separated: default, banking77")
    ap.add_argument("--n", type=int, default=200, help="evaluation tickets per set (seeded sample)")
    ap.add_argument("--calibration-n", type=int, default=300, help="fallback-only sample for the cascade threshold")
    ap.add_argument("--cascade-accuracy", type=float, default=0.9)
    ap.add_argument("--k", type=int, default=8, help="retrieved examples per prompt")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--base-url", help="any OpenAI-compatible endpoint (default: start the local llama-server)")
    ap.add_argument("--model", help="model name at --base-url (key from TRIAGE_LLM_API_KEY or OPENAI_API_KEY)")
    ap.add_argument("--local-model", default="smollm2", choices=sorted(local_llm.MODELS))
    ap.add_argument("--port", type=int, default=8091, help="port of the local server (fixed, so --replay matches)")
    ap.add_argument("--response-format", default="json_schema", choices=["json_schema", "json_object", "none"])
    ap.add_argument("--timeout", type=float, default=120.0)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--record", metavar="DIR", help="record LLM calls (replays ones already there)")
    g.add_argument("--replay", metavar="DIR", help="replay recorded calls; never touches the network")
    args = ap.parse_args()

    with endpoint(args) as (base_url, model, key, about):
        print(f"LLM: {model} at {base_url} ({about}); response_format {args.response_format}")
        client = build_client(base_url, key, args.timeout)
        with recording(args.record, args.replay):
            for name in args.sets.split(","):
                run_set(name.strip(), args, client, model)
    return 0


@contextlib.contextmanager
def endpoint(args: argparse.Namespace):
    """(base_url, model, api_key, description): the given endpoint, or a local llama-server."""
    if args.base_url:
        key = os.environ.get("TRIAGE_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY")
        yield args.base_url, args.model or "default", key, "given endpoint"
        return
    if args.replay:  # nothing is contacted; the URL and model only have to match the recording
        yield f"http://127.0.0.1:{args.port}/v1", args.local_model, "replay", "replayed"
        return
    with tempfile.TemporaryFile() as log, local_llm.LlamaServer(args.local_model, port=args.port, log_file=log) as s:
        yield s.base_url, s.model.name, s.api_key, f"llama-server {local_llm.server_version()}, {s.model.source}"


def load_set(name: str, args: argparse.Namespace):
    """(taxonomy, fallback model, index items, calibration items, evaluation items) for one set."""
    rng = random.Random(args.seed)
    if name == "default":
        taxonomy = load_taxonomy()
        fallback = load_fallback()
        # the bundled model's own mapping (intent where the taxonomy lists it, else category)
        train = bitext_items(args.data / BITEXT / "Bitext_Sample_Customer_Service_Training_Dataset.csv", taxonomy)
        pool = bitext_items(args.data / BITEXT / "Bitext_Sample_Customer_Service_Validation_Dataset.csv", taxonomy)
    elif name == "banking77":
        items = load_labelled(args.data / "banking77" / "train.csv")
        items = [Item(it.id, it.text, category_name(it.label), it.subject) for it in items]
        train, pool = stratified_split(items, 0.2, seed=0)
        taxonomy = parse_taxonomy(taxonomy_toml_from_labels(sorted({it.label for it in train})))
        t = time.perf_counter()
        fallback = HashBagClassifier(seed=0).fit([it.text for it in train], [it.label for it in train])
        print(f"  fallback HashBagClassifier trained on {len(train)} in {time.perf_counter() - t:.0f} s")
    else:
        raise SystemExit(f"unknown set {name!r}")
    picked = rng.sample(range(len(pool)), min(len(pool), args.n + args.calibration_n))
    evaluation = [pool[i] for i in picked[: args.n]]
    calibration = [pool[i] for i in picked[args.n:]]
    return taxonomy, fallback, train, calibration, evaluation


def run_set(name: str, args: argparse.Namespace, client, model: str) -> None:
    print(f"\n== {name}")
    taxonomy, fallback, train, calibration, evaluation = load_set(name, args)
    t = time.perf_counter()
    index = RetrievalIndex.build([it.text for it in train], [it.label for it in train])
    print(f"  {len(taxonomy.names)} categories; {len(evaluation)} evaluation tickets, {len(calibration)} for "
          f"calibration; retrieval index of {len(index)} redacted examples built in {time.perf_counter() - t:.0f} s")
    llm = LLMClassifier(client, model, taxonomy.names, max_retries=0, response_format=args.response_format)

    def pipeline(mode: str, *, retriever=None, threshold: float = 0.9) -> PipelineClassifier:
        return PipelineClassifier(Pipeline(taxonomy, fallback, llm=None if mode == "fallback" else llm, mode=mode,
                                           retriever=retriever, fewshot_k=args.k, cascade_threshold=threshold))

    choice = cascade_threshold(predict(calibration, pipeline("fallback"), progress=False),
                               target_accuracy=args.cascade_accuracy)
    print(f"  cascade threshold {choice.threshold:.3f} (fallback kept >= {args.cascade_accuracy:.0%} right on "
          f"calibration; {choice.llm_share:.0%} of it went to the LLM)")
    rows = [("fallback alone", pipeline("fallback")),
            ("LLM zero-shot", pipeline("llm")),
            (f"LLM + {args.k} retrieved examples", pipeline("llm", retriever=index)),
            (f"cascade @ {choice.threshold:.2f}", pipeline("cascade", retriever=index, threshold=choice.threshold))]
    summaries = []
    for label, classify in rows:
        t = time.perf_counter()
        preds = predict(evaluation, classify, desc=label)
        summaries.append((label, summarize(preds, taxonomy, FREE), time.perf_counter() - t, preds))
    print_table(summaries)


def print_table(summaries) -> None:
    head = (f"  {'':30} {'acc':>6} {'mF1':>6} {'valid':>6} {'ECE':>5} {'ECErep':>6} {'to LLM':>6} "
            f"{'s/tkt':>6} {'p tok/s':>8} {'c tok/s':>7} {'saved':>6}")
    print(head)
    llm_only_tokens = None
    for label, s, seconds, preds in summaries:
        llm = s.get("llm") or {}
        llm_ms = sum(p.latency_ms for p in preds if p.llm_called) / 1000 or float("nan")
        pt, ct = s["tokens"]["prompt"], s["tokens"]["completion"]
        if label.startswith("LLM +"):
            llm_only_tokens = pt
        saved = (1 - pt / llm_only_tokens) if (label.startswith("cascade") and llm_only_tokens) else None
        print(f"  {label:30} {s['accuracy']:6.1%} {s['macro_f1']:6.3f} "
              f"{_share(llm.get('valid_rate')):>6} {_num(llm.get('ece')):>5} {_num(llm.get('reported_ece')):>6} "
              f"{s['llm_share']:6.0%} {seconds / max(s['n'], 1):6.2f} "
              f"{(pt / llm_ms if pt else 0):8.0f} {(ct / llm_ms if ct else 0):7.1f} "
              f"{_share(saved):>6}")
    fb = summaries[0][1]
    print(f"  (fallback alone: ECE {fb['reliability']['ece']:.3f} of its calibrated score; "
          f"'saved' = prompt tokens the cascade did not send, against the LLM with examples on every ticket)")


def _share(x) -> str:
    return "-" if x is None else f"{x:.0%}"


def _num(x) -> str:
    return "-" if x is None else f"{x:.2f}"


if __name__ == "__main__":
    sys.exit(main())
