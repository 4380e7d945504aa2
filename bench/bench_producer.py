"""Producer agent footprint (issue #3): CPU % of one core and RSS of the real agent, all families on.

The real `python -m producer` (every metric family, per-core and per-device on, as installed) runs
against a local broker at 1 Hz and at 10 Hz, and once with --dry-run at 1 Hz (no Kafka client) to
show what librdkafka adds. Each run: start, wait for READY=1 on a notify socket the bench holds (as
systemd would, with the unit's 30 s watchdog), let it warm up, then measure the process from outside
with psutil (all its threads) over the window. Every sample must have been delivered.

Peer: Netdata's *published* footprint, 1–5 % of a single core and 100–200 MB of RAM for an agent with
default settings on an empty system (learn.netdata.cloud, "Resource utilization"). That is a figure
from other machines, and Netdata does more (storage, ML, a dashboard per node): the ratio says where
this agent sits, it is not a same-machine race.

    python -m bench.bench_producer [--quick] [--seconds 60] [--warmup 5]
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import ROOT, Usage, header, kafka, new_topic, parser, say, table, workdir
from broker.launcher import spawn, terminate

NETDATA_CPU_PERCENT = (1.0, 5.0)  # of one core, default settings, empty system
NETDATA_RSS_MB = (100.0, 200.0)
NETDATA_SOURCE = "https://learn.netdata.cloud/docs/netdata-agent/resource-utilization/"
TARGET_CPU_PERCENT, TARGET_RSS_MB = 0.5, 60.0  # the target at 1 Hz
_STOPPED = re.compile(r"stopped: (\d+) sampled, (\d+) delivered, (\d+) held, (\d+) dropped, (\d+) refused")


def run_agent(tmp: Path, name: str, args: Sequence[str], hz: float, seconds: float, warmup: float) -> dict[str, Any]:
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    address = f"bench-producer-{uuid.uuid4().hex}"
    notify.bind(b"\0" + address.encode())
    log_path = tmp / f"{name}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "PRODUCER_"))}
    env.update(NOTIFY_SOCKET="@" + address, WATCHDOG_USEC="30000000")  # as under the unit (WatchdogSec=30)
    with log_path.open("wb") as log:
        proc = spawn([sys.executable, "-m", "producer", *args], cwd=ROOT, env=env,
                     stdout=subprocess.DEVNULL, stderr=log)  # fmt: skip
        try:
            notify.settimeout(60)
            while b"READY=1" not in notify.recv(4096).split(b"\n"):
                pass
            time.sleep(warmup)  # imports done, first samples sent, librdkafka connected
            say(f"{name}: measuring {seconds:.0f} s")
            with Usage(proc.pid) as usage:
                time.sleep(seconds)
        finally:
            status = terminate(proc, 30)  # SIGTERM once (a second one would force the exit), then waits
            notify.close()
    text = log_path.read_text(errors="replace")
    match = _STOPPED.search(text)
    if status != 0 or match is None:
        raise RuntimeError(f"{name}: agent exited {status}:\n{text[-2000:]}")
    sampled, delivered, held, dropped, refused = map(int, match.groups())
    return {
        "name": name,
        "cpu_percent": usage.cpu_percent,
        "cpu_seconds": usage.cpu_seconds,
        "window_samples": usage.seconds * hz,
        "seconds": usage.seconds,
        "rss_last": usage.rss_mb("last"),
        "rss_peak": usage.rss_mb("peak"),
        "sampled": sampled,
        "delivered": delivered,
        "lost": held + dropped + refused,
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, help="measurement window per run [60; quick 15]")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds between READY=1 and the window [5]")
    args = p.parse_args(argv)
    seconds = args.seconds or (15.0 if args.quick else 60.0)
    header("Producer agent: CPU and memory of the real agent, all metric families", args)
    rows: list[dict[str, Any]] = []
    with workdir("producer", args.keep) as tmp, kafka(tmp) as broker:
        topic = new_topic(broker, prefix="bench-producer")
        common = ["--bootstrap-servers", broker.bootstrap_servers, "--topic", topic, "--host-id", "bench-host"]
        for name, hz, extra in (
            ("Kafka, 1 Hz", 1.0, ["--interval", "1"]),
            ("Kafka, 10 Hz", 10.0, ["--interval", "0.1"]),
            ("--dry-run, 1 Hz", 1.0, ["--interval", "1", "--dry-run"]),
        ):
            rows.append(run_agent(tmp, name, [*common, *extra], hz, seconds, args.warmup))
            say(f"{name}: {rows[-1]['cpu_percent']:.2f} % of a core, {rows[-1]['rss_peak']:.1f} MB peak RSS")

    print(f"The real agent, every family on (cpu, disk, memory, network, system + agent), "
          f"{seconds:.0f} s per run after a {args.warmup:.0f} s warm-up; CPU = user + system time of the "
          f"process (all threads) / wall time, in % of one core; RSS sampled every 0.25 s.")
    print()
    print(table(
        ["run", "CPU % of a core", "CPU ms per sample", "RSS MB (end)", "RSS MB (peak)", "samples (whole run)", "lost"],
        [[r["name"], f"{r['cpu_percent']:.2f}", f"{1000 * r['cpu_seconds'] / r['window_samples']:.2f}",
          f"{r['rss_last']:.1f}", f"{r['rss_peak']:.1f}", r["sampled"], r["lost"]] for r in rows],
    ))  # fmt: skip
    print()
    one_hz = rows[0]
    cpu_ok = one_hz["cpu_percent"] < TARGET_CPU_PERCENT
    rss_ok = one_hz["rss_peak"] < TARGET_RSS_MB
    print(f"Target at 1 Hz: < {TARGET_CPU_PERCENT} % of a core ({'met' if cpu_ok else 'NOT met'}: "
          f"{one_hz['cpu_percent']:.2f} %), < {TARGET_RSS_MB:.0f} MB RSS ({'met' if rss_ok else 'NOT met'}: "
          f"{one_hz['rss_peak']:.1f} MB peak).")
    lo_cpu, hi_cpu = NETDATA_CPU_PERCENT
    lo_rss, hi_rss = NETDATA_RSS_MB
    print(f"Netdata's published figure (not measured here; other machines, and Netdata also stores, "
          f"learns and serves a dashboard; {NETDATA_SOURCE}): {lo_cpu:g}–{hi_cpu:g} % of a core, "
          f"{lo_rss:.0f}–{hi_rss:.0f} MB.")
    print(f"Ratio this agent / Netdata at 1 Hz: CPU {one_hz['cpu_percent'] / hi_cpu:.2f}–"
          f"{one_hz['cpu_percent'] / lo_cpu:.2f}×, RSS {one_hz['rss_peak'] / hi_rss:.2f}–"
          f"{one_hz['rss_peak'] / lo_rss:.2f}× (i.e. {lo_cpu / one_hz['cpu_percent']:.0f}–"
          f"{hi_cpu / one_hz['cpu_percent']:.0f}× less CPU, {lo_rss / one_hz['rss_peak']:.1f}–"
          f"{hi_rss / one_hz['rss_peak']:.1f}× less memory).")
    return 0 if all(r["lost"] == 0 for r in rows if not r["name"].startswith("--dry-run")) else 1


if __name__ == "__main__":
    raise SystemExit(main())
