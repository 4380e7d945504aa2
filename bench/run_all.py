"""`make bench`: every benchmark once with --quick (a smoke run of each, a few minutes in all).

Each bench runs as its own process, one after the other (they would compete for the 2 cores
otherwise); their figures go to stdout as they come. Exit status 1 if any failed. Full-size runs,
whose numbers go to bench/README.md: `python -m bench.<name>` without --quick.

    python -m bench.run_all [--full] [names ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Sequence

from bench.common import ROOT

BENCHES = ("bench_skeleton", "bench_ingest", "bench_latency", "bench_push_vs_poll", "bench_fanout", "bench_backfill",
           "bench_producer", "bench_producer_sample", "bench_decode", "bench_page")
TIMEOUT_S = 600


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--full", action="store_true", help="full-size runs instead of --quick")
    p.add_argument("names", nargs="*", metavar="name", help=f"a subset of {', '.join(BENCHES)}")
    args = p.parse_args(argv)
    unknown = sorted(set(args.names) - set(BENCHES))
    if unknown:
        p.error(f"unknown bench {', '.join(unknown)} (choose from {', '.join(BENCHES)})")
    results = []
    for name in args.names or BENCHES:
        cmd = [sys.executable, "-m", f"bench.{name}", *([] if args.full else ["--quick"])]
        print(f"\n$ {' '.join(cmd[1:])}", flush=True)
        started = time.monotonic()
        status: int | str
        try:
            status = subprocess.run(cmd, cwd=ROOT, timeout=TIMEOUT_S, check=False).returncode
        except subprocess.TimeoutExpired:
            status = "timeout"
        results.append((name, status, time.monotonic() - started))
    print("\n| bench | status | seconds |\n|---|---|---|")
    for name, status, seconds in results:
        print(f"| {name} | {'ok' if status == 0 else f'FAILED ({status})'} | {seconds:.0f} |")
    return 0 if all(status == 0 for _, status, _ in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
