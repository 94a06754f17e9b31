"""Fuzz at full size: the reliability suite's hypothesis and schemathesis tests with many more
examples; prints cases tried and 5xx seen per endpoint (from the suite's own counters).

Usage: python bench/bench_fuzz.py [--examples 2000] [--schemathesis 500] [--random]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TESTS = ["tests/reliability/test_fuzz.py", "tests/reliability/test_schemathesis.py", "tests/reliability/test_auth.py"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=2000, help="hypothesis examples per webhook/classify test")
    ap.add_argument("--schemathesis", type=int, default=500, help="schemathesis examples per generation mode")
    ap.add_argument("--random", action="store_true", help="new random examples (default: derandomized, repeatable)")
    args = ap.parse_args()
    env = {**os.environ, "TRIAGE_FUZZ_EXAMPLES": str(args.examples),
           "TRIAGE_SCHEMATHESIS_EXAMPLES": str(args.schemathesis), "TRIAGE_FUZZ_RANDOM": "1" if args.random else "0"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "log_level=ERROR",
                           *TESTS], cwd=REPO, env=env, capture_output=True, text=True)
    rows = re.findall(r"^(\S+): (\d+) cases, (\d+) 5xx$", proc.stdout, re.M)
    total = sum(int(c) for _, c, _ in rows)
    errors = sum(int(e) for _, _, e in rows)
    for name, cases, five in rows:
        print(f"{name:<24} {int(cases):>7} cases  {int(five)} 5xx")
    print(f"{'total':<24} {total:>7} cases  {errors} 5xx")
    summary = [ln for ln in proc.stdout.splitlines() if re.search(r"\d+ (passed|failed)", ln)]
    print("pytest:", summary[-1] if summary else proc.stdout[-2000:])
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
