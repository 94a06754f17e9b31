"""Latency and throughput of POST /v1/classify on the fallback path, through a real socket.

Starts the service (waitress, as `triage serve` does) on an ephemeral 127.0.0.1 port with a fresh
instance dir and an API key, then measures sequential keep-alive requests (p50/p99) and
concurrent clients (req/s). Goal from issue 5: p50 <= 5 ms on the project's machine.

    .venv/bin/python bench/bench_classify_api.py [--requests 2000] [--clients 4]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import logging

from waitress.server import create_server

from plugin.apikeys import KeyStore
from plugin.config import load_settings
from plugin.metrics import percentile
from webhooks import create_app

TEXTS = ["I was charged twice for my order last week", "Where is my parcel? It has not arrived",
         "I want my money back for the broken blender", "How do I reset my password?",
         "Can I speak to a real person please, call me at +1 415 555 2671"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # expected under load
    instance = Path(tempfile.mkdtemp(prefix="bench-classify-"))
    settings = load_settings({"instance_dir": instance, "classifier": "fallback",
                              "classify_rate_per_minute": 10**9}, env={})
    app = create_app(settings)
    _, token = KeyStore.for_instance(instance).create("bench")
    server = create_server(app, host="127.0.0.1", port=0, threads=args.clients)
    threading.Thread(target=server.run, daemon=True).start()
    url = f"http://127.0.0.1:{server.effective_port}/v1/classify"
    headers = {"Authorization": f"Bearer {token}"}

    session = requests.Session()
    for i in range(100):  # warm-up: model load, caches
        session.post(url, json={"inputs": TEXTS[i % len(TEXTS)]}, headers=headers).raise_for_status()
    latencies = []
    for i in range(args.requests):
        start = time.perf_counter()
        resp = session.post(url, json={"inputs": TEXTS[i % len(TEXTS)]}, headers=headers)
        latencies.append((time.perf_counter() - start) * 1000)
        resp.raise_for_status()
    print(f"sequential, keep-alive, {args.requests} requests:")
    print(f"  p50 {percentile(latencies, 50):.2f} ms   p99 {percentile(latencies, 99):.2f} ms   "
          f"mean {statistics.fmean(latencies):.2f} ms   req/s {1000 / statistics.fmean(latencies):.0f}")

    def worker(n: int) -> int:
        s = requests.Session()
        for i in range(n):
            s.post(url, json={"inputs": TEXTS[i % len(TEXTS)]}, headers=headers).raise_for_status()
        return n

    per_client = args.requests // args.clients
    start = time.perf_counter()
    with ThreadPoolExecutor(args.clients) as pool:
        done = sum(pool.map(worker, [per_client] * args.clients))
    elapsed = time.perf_counter() - start
    print(f"{args.clients} concurrent clients, {done} requests: {done / elapsed:.0f} req/s")
    goal = percentile(latencies, 50) <= 5.0
    print(f"goal p50 <= 5 ms: {'met' if goal else 'NOT met'}")
    server.close()


if __name__ == "__main__":
    main()
