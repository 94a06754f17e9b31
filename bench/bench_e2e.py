"""End-to-end rate of tickets tagged per second: signed webhook → store → queue → fallback classifier →
Zendesk simulator GET + PUT, on the embedded default (`triage serve`, SQLite queue) and on Redis with
N separate `triage worker` processes. Prints numbers, asserts nothing.

Loopback only (simulator in this process, service and workers as child processes, redis-server on
an ephemeral port). Note the simulator and the load generator share this process's GIL, and the
machine's cores are shared by everything, so the figures are a floor for a real deployment.

Usage: python bench/bench_e2e.py [--tickets 1500] [--senders 4] [--worker-procs 1,2,4] [--no-redis]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "reliability"))
sys.path.insert(0, str(REPO / "bench"))

from bench_crash import start_redis  # noqa: E402
from loadgen import Ledger, send_load, tagged  # noqa: E402
from reliability_support import FD_SECRET, ZD_SECRET, TriageProcess, service_env, wait_for  # noqa: E402


def run(label: str, zd, tickets: int, senders: int, extra_env: dict[str, str], worker_procs: int,
        threads_per_proc: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    env = service_env(tmp, zd, None, TRIAGE_WORKERS=str(threads_per_proc), **extra_env)
    procs = [TriageProcess(tmp, env)]
    procs += [TriageProcess(tmp, env, "worker") for _ in range(worker_procs)]
    ledger, stop = Ledger(), threading.Event()
    started = time.monotonic()
    threads = [threading.Thread(target=send_load, args=(procs[0].url, {"zendesk": zd}, ledger, stop),
                                kwargs={"limit": tickets, "zd_secret": ZD_SECRET, "fd_secret": FD_SECRET,
                                        "deadline_s": 600}) for _ in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent_s = time.monotonic() - started
    done = wait_for(lambda: all(tagged(zd, tid) for _, tid in ledger.accepted), 900, 0.25)
    total_s = time.monotonic() - started
    for p in procs:
        p.terminate(120)
    shutil.rmtree(tmp, ignore_errors=True)
    n = len(ledger.accepted)
    row = {"setup": label, "tickets": n, "accept_per_s": n / sent_s, "tagged_per_s": n / total_s, "all_tagged": done}
    print(f"{label:<34} {n:>6} tickets  accepted {row['accept_per_s']:7.1f}/s  tagged end-to-end "
          f"{row['tagged_per_s']:7.1f}/s  {'ok' if done else 'NOT ALL TAGGED'}", flush=True)
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tickets", type=int, default=1500)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--worker-procs", default="1,2,4")
    ap.add_argument("--threads", type=int, default=2, help="consumer threads per process (settings.workers)")
    ap.add_argument("--no-redis", action="store_true")
    args = ap.parse_args()

    from simulators.zendesk import ZendeskSimulator

    zd = ZendeskSimulator(rate_limit_per_minute=10**9).start()
    run("embedded default (sqlite, serve)", zd, args.tickets, args.senders, {}, 0, args.threads)
    if not args.no_redis and shutil.which("redis-server"):
        tmp = Path(tempfile.mkdtemp(prefix="bench-redis-"))
        redis_proc, url = start_redis(tmp)
        try:
            for n in [int(x) for x in args.worker_procs.split(",") if x]:
                run(f"redis, serve + {n} worker proc(s)", zd, args.tickets, args.senders,
                    {"TRIAGE_QUEUE_BACKEND": "redis", "TRIAGE_REDIS_URL": url}, n, args.threads)
        finally:
            redis_proc.kill()
            redis_proc.wait(10)
            shutil.rmtree(tmp, ignore_errors=True)
    elif not args.no_redis:
        print("redis-server not found: skipped the Redis runs (apt-get install -y redis-server)")
    zd.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
