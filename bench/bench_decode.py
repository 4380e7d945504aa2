"""Decode throughput per format, side by side in one run, on one core.

Each workload is a list of Kafka record values as its producer writes them (Telegraf's line protocol
and JSON serializer, our v1, the seed's key = label / value = text), with hosts rotating and times
advancing. They go through ``dash_app.formats.Decoder.decode`` with detection on (``fmt="auto"``),
rates and series caps — the path the dashboard's consumer takes — in this process pinned to one
CPU; each pass over a workload's 2,000 records starts with a fresh Decoder. Each figure is the best
of several timed passes (CPU time of this thread), so a busy neighbour slows a pass down but does
not make the best one look faster than it is.

Peers: the hoptical Grafana Kafka data source (Go backend) publishes ≈ 30 k msg/s for line protocol
and ≈ 173 k msg/s for 20-field JSON. Those are its own published figures on its own machine with its
own message shapes: the ratios printed here are cross-machine and only indicative.

    python -m bench.bench_decode [--quick]
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from bench.common import parser, say, table
from dash_app.formats import Decoder

HOPTICAL_LINE_PROTOCOL = 30_000  # msg/s, published (cross-machine)
HOPTICAL_JSON_20_FIELDS = 173_000  # msg/s, published, 20-field JSON (cross-machine)
N_RECORDS = 2_000
HOSTS = 50
T0_S = 1_700_000_000


@dataclass
class Workload:
    name: str
    records: list[tuple[bytes, bytes | None, int]]  # value, key, Kafka timestamp (ms)
    fields: int  # numeric fields per record
    peer: int | None = None


def _cpu_usage_line(i: int) -> str:  # Telegraf inputs.cpu, one metric (its README's example values)
    return (f"cpu,cpu=cpu{i % 4},host=host-{i % HOSTS} usage_active=31.249999981810106,usage_guest=2.083333333080696,"
            "usage_guest_nice=0,usage_idle=68.7500000181899,usage_iowait=0,usage_irq=0,usage_nice=0,usage_softirq=0,"
            f"usage_steal=0,usage_system=4.166666666161392,usage_user=25.000000002273737 {(T0_S + i) * 10**9}\n")


def workloads() -> list[Workload]:
    ts = [(T0_S + i) * 1000 for i in range(N_RECORDS)]
    lp1 = [(_cpu_usage_line(i).encode(), f"host-{i % HOSTS}".encode(), ts[i]) for i in range(N_RECORDS)]
    lp10 = [("".join(_cpu_usage_line(i * 10 + j) .replace(f"host-{(i * 10 + j) % HOSTS}", f"host-{i % HOSTS}")
                     for j in range(10)).encode(), None, ts[i]) for i in range(N_RECORDS)]
    net = [(f"net,host=host-{i % HOSTS},interface=eth0 bytes_sent={451838509 + i * 1000}i,"
            f"bytes_recv={3284081640 + i * 5000}i,packets_sent={2663590 + i}i,packets_recv={3585442 + i * 3}i,"
            f"err_in=0i,err_out=0i,drop_in=4i,drop_out=0i {(T0_S + i) * 10**9}\n".encode(), None, ts[i])
           for i in range(N_RECORDS)]
    json20 = [(orjson.dumps({"fields": {f"field_{k}": k * 1.5 + i for k in range(20)}, "name": "docker",
                             "tags": {"host": f"host-{i % HOSTS}"}, "timestamp": T0_S + i}), None, ts[i])
              for i in range(N_RECORDS)]
    batch = [(orjson.dumps({"metrics": [{"fields": {f"field_{k}": k * 1.5 + i for k in range(20)}, "name": f"m{j}",
                                         "tags": {"host": f"host-{i % HOSTS}"}, "timestamp": T0_S + i}
                                        for j in range(10)]}), None, ts[i]) for i in range(N_RECORDS)]
    v1 = [(orjson.dumps({"v": 1, "host": f"host-{i % HOSTS}", "ts": ts[i], "seq": i,
                         "metrics": {f"fam.metric_{k}": k * 1.5 + i for k in range(20)}}),
           f"host-{i % HOSTS}".encode(), ts[i]) for i in range(N_RECORDS)]
    labels = [b"CPU utilization (%)", b"Memory used by processes (MB)"]
    seed = [(str(12.5 + i % 50).encode(), labels[i % 2], ts[i]) for i in range(N_RECORDS)]
    return [
        Workload("influx, 1 line (Telegraf cpu)", lp1, 11, HOPTICAL_LINE_PROTOCOL),
        Workload("influx, 10 lines per record", lp10, 110),
        Workload("influx, net counters → rates", net, 8),
        Workload("telegraf_json, 20 fields", json20, 20, HOPTICAL_JSON_20_FIELDS),
        Workload("telegraf_json, batch 10 × 20", batch, 200),
        Workload("v1, 20 metrics", v1, 20),
        Workload("seed, 1 value", seed, 1),
    ]


def best_rate(run: Callable[[], None], records: int, min_s: float, passes: int) -> float:
    """Records per CPU-second, best of ``passes`` passes of at least ``min_s`` each."""
    best = 0.0
    for _ in range(passes):
        n = 0
        start = time.thread_time()
        while True:
            run()
            n += records
            elapsed = time.thread_time() - start
            if elapsed >= min_s:
                break
        best = max(best, n / elapsed)
    return best


def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpus[-1]})
    min_s, passes = (0.3, 2) if args.quick else (1.0, 5)
    print("## Decoders")
    print(f"{time.strftime('%Y-%m-%d %H:%M')} · {'quick' if args.quick else 'full'} run · pinned to CPU {cpus[-1]} "
          f"of {len(cpus)} · Python {sys.version.split()[0]} · {platform.machine()} · best of {passes} × ≥ {min_s} s "
          "CPU time · Decoder.decode, fmt=auto")
    print()
    rows = []
    for w in workloads():
        say(f"decoding {w.name}")
        decoders: list[Decoder] = []

        def run(records=w.records, decoders=decoders) -> None:
            # A fresh Decoder per pass: times never go backwards, so counters give real rates
            # (each pass starts with the series' first values, as a consumer does after a restart).
            decoder = Decoder()
            decoders.append(decoder)
            decode = decoder.decode
            for value, key, ts in records:
                decode(value, key, ts)

        run()  # warm the interpreter and the regex caches
        rate = best_rate(run, len(w.records), min_s, passes)
        ratio = f"{rate / w.peer:.2f} × hoptical ({w.peer // 1000} k msg/s, cross-machine)" if w.peer else ""
        rows.append([w.name, w.fields, round(rate), round(rate * w.fields), f"{1e6 / rate:.1f}", ratio])
        dropped = decoders[-1].dropped
        assert not dropped.get("bad_line") and not dropped.get("series_cap_total"), dropped
    print(table(["workload", "fields/record", "records/s", "fields/s", "µs/record", "vs published peer"], rows))
    print()
    print("Peer figures are hoptical/grafana-kafka-datasource's own published numbers (Go backend, its machine,"
          " its message shapes), not measured here: the ratios are cross-machine and only indicative.")


if __name__ == "__main__":
    main()
