"""Crash bench: >= 10,000 signed webhooks (Zendesk + Freshdesk) while `triage serve` is killed with
SIGKILL at random moments and restarted; prints sent / accepted / lost / duplicates.

Loopback only: the simulators run in this process on ephemeral ports, the service is a child
process. Bounded: stops after --events events or --deadline seconds. Asserts nothing; the CI
version of the same check is tests/reliability/test_crash.py.

Usage: python bench/bench_crash.py [--events 10000] [--kills 10] [--senders 4] [--seed N]
       [--queue sqlite|redis --worker-procs 2] [--store postgresql --receivers 2]

``--store postgresql`` (needs ``--queue redis``): a throwaway PostgreSQL server on loopback, the
multi-host topology of docs/webhooks.md: ``--receivers`` ``triage serve`` and ``--worker-procs``
``triage worker`` processes, each with an instance dir of its own (nothing shared but PostgreSQL
and Redis); each kill takes a random subset of them.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # pgserver
sys.path.insert(0, str(REPO / "tests" / "reliability"))

from loadgen import Ledger, send_load, tagged, verdict  # noqa: E402
from plugin.ports import free_port  # noqa: E402
from reliability_support import FD_CHOICES, FD_SECRET, ZD_SECRET, TriageProcess, service_env, wait_for  # noqa: E402


def start_redis(tmp: Path) -> tuple[subprocess.Popen, str]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server not found (apt-get install -y redis-server)")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    assert wait_for(lambda: _ping(redis, url), 20), "redis did not start"
    return proc, url


def _ping(redis, url) -> bool:
    try:
        return redis.Redis.from_url(url).ping()
    except Exception:  # noqa: BLE001 - not up yet
        return False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--queue", choices=["sqlite", "redis"], default="sqlite")
    ap.add_argument("--worker-procs", type=int, default=2, help="separate `triage worker` processes (redis)")
    ap.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--receivers", type=int, default=1, help="`triage serve` processes (postgresql)")
    ap.add_argument("--deadline", type=float, default=1800)
    args = ap.parse_args()
    if args.store == "postgresql" and args.queue != "redis":
        ap.error("--store postgresql runs the multi-host topology: add --queue redis")
    if args.store == "sqlite" and args.receivers != 1:
        ap.error("one SQLite store has one receiver")
    seed = args.seed if args.seed is not None else int(time.time())
    rng = random.Random(seed)

    from simulators.freshdesk import FreshdeskSimulator
    from simulators.zendesk import ZendeskSimulator

    tmp = Path(tempfile.mkdtemp(prefix="bench-crash-"))
    zd = ZendeskSimulator(rate_limit_per_minute=10**9).start()
    fd = FreshdeskSimulator(rate_limit_per_minute=10**9, custom_field_choices={"cf_ai_category": FD_CHOICES}).start()
    for sim in (zd, fd):
        sim.latency_s = 0.002
    sims = {"zendesk": zd, "freshdesk": fd}
    extra = {}
    redis_proc = None
    if args.queue == "redis":
        redis_proc, url = start_redis(tmp)
        extra = {"TRIAGE_QUEUE_BACKEND": "redis", "TRIAGE_REDIS_URL": url}
    pg = None
    if args.store == "postgresql":
        import pgserver

        reason = pgserver.unavailable()
        if reason:
            sys.exit(reason)
        pg = pgserver.PostgresServer().start()  # fsync on: commits on disk, as in production
        # a killed worker's claimed events wait for their lease (no other host's lease is released)
        extra.update(TRIAGE_DATABASE_URL=pg.create_database("crash"), TRIAGE_LEASE_S="5")
    ledger = Ledger()
    started = time.monotonic()
    end = started + args.deadline
    kills = 0

    def host(name: str) -> tuple[Path, dict[str, str]]:
        """SQLite: one shared instance dir (the store file); PostgreSQL: one per process."""
        home = tmp / name if pg is not None else tmp
        home.mkdir(exist_ok=True)
        return home, service_env(home, zd, fd, **extra)

    def start_all() -> list[TriageProcess]:
        procs = [TriageProcess(*host(f"r{i}")) for i in range(args.receivers)]
        if args.queue == "redis":
            procs += [TriageProcess(*host(f"w{i}"), "worker") for i in range(args.worker_procs)]
        return procs

    while len(ledger.sent) < args.events and time.monotonic() < end:
        procs = start_all()
        stop = threading.Event()
        senders = [threading.Thread(target=send_load, args=(procs[i % args.receivers].url, sims, ledger, stop),
                                    kwargs={"limit": args.events, "zd_secret": ZD_SECRET, "fd_secret": FD_SECRET,
                                            "deadline_s": end - time.monotonic()}) for i in range(args.senders)]
        for s in senders:
            s.start()
        if kills < args.kills:
            # random moment: somewhere in this slice of the run
            share = args.events / (args.kills + 1)
            target = len(ledger.sent) + rng.uniform(0.3, 1.7) * share
            wait_for(lambda: len(ledger.sent) >= min(target, args.events) or not any(s.is_alive() for s in senders),
                     end - time.monotonic(), 0.005)
            victims = procs if args.queue == "sqlite" else rng.sample(procs, rng.randint(1, len(procs)))
            for p in victims:
                p.kill9()
            kills += 1
            print(f"kill {kills}: {[p.proc.args[3] if len(p.proc.args) > 3 else 'serve' for p in victims]} "
                  f"at {len(ledger.sent)} sent, {time.monotonic() - started:.1f}s", flush=True)
            for p in procs:
                if p not in victims:
                    p.kill9()  # the survivors are restarted too (fresh ports/processes for the next round)
            stop.set()
            for s in senders:
                s.join(60)
        else:
            for s in senders:
                s.join(end - time.monotonic())
            break
    sent_done = time.monotonic()
    # final run: the recovery sweep re-enqueues whatever was unfinished; wait for every accepted event
    procs = procs if all(p.proc.poll() is None for p in procs) else start_all()
    drained = wait_for(lambda: all(tagged(sims[v], t) for v, t in ledger.accepted), max(60.0, end - time.monotonic() + 300), 0.5)
    drain_s = time.monotonic() - sent_done
    for p in procs:
        p.terminate(120)
    figures = verdict(sims, ledger)
    figures.update(kills=kills, seed=seed, queue=args.queue, store=args.store, receivers=args.receivers, drained=drained, seconds=round(time.monotonic() - started, 1),
                   drain_after_last_send_s=round(drain_s, 1))
    print(json.dumps(figures))
    print(f"sent {figures['sent']}  accepted {figures['accepted']}  lost {figures['lost']}  "
          f"duplicates {figures['duplicates']}  kills {kills}  ({figures['seconds']} s, seed {seed}, {args.store} store,"
          f" {args.queue} queue, {args.receivers} receivers, {args.worker_procs if args.queue == 'redis' else 0} workers)")
    zd.stop()
    fd.stop()
    if redis_proc is not None:
        redis_proc.kill()
        redis_proc.wait(10)
    if pg is not None:
        pg.stop()
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if figures["lost"] == 0 and figures["duplicates"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
