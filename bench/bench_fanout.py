"""Fan-out: 1,000 concurrent WebSocket clients on one relay process, then 10 of them stalled.

Data: 50 simulated hosts × 20 metrics at 1 Hz, sent together at the top of each second (agents with
aligned intervals, like Telegraf's default round_interval), so every client gets about one data
frame a second (`--phase spread` gives ~10). Clients run in a separate process (asyncio +
websockets, offering permessage-deflate like browsers); the first `--detailed` of them record
per-point latency, all of them record which frames (seq) they got.

Phase A: all clients read. Phase B: 10 ordinary clients are replaced by 10 that connect, say ready
and then never read again; the others' latency should not move and the relay's memory should stay
bounded. Phase B lasts long enough (75 s) for a stalled client's queue (64 frames at ~1 frame/s) to
fill and the relay to coalesce it or give up on it. Target (issue #4): < 25 % of a core, nothing lost.

    python -m bench.bench_fanout [--quick] [--clients 1000] [--stalled 10] [--seconds 45]
"""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Sequence
from typing import Any

from bench.common import (
    ClientProcess,
    Dashboard,
    LiveFleet,
    Machine,
    Usage,
    header,
    host_names,
    kafka,
    metric_names,
    new_topic,
    parser,
    raise_fd_limit,
    say,
    subscription_hosts,
    summarize_ws,
    table,
    wait_for,
    workdir,
)

COUNTERS = re.compile(r"^(\w*(?:coalesced|slow_disconnect|snapshots|frames_sent|clients)\w*)\s+([0-9.e+]+)$", re.M)


def relay_counters(dash: Dashboard) -> dict[str, float]:
    """Counters from <prefix>metrics (Prometheus text) when the relay has it; {} otherwise."""
    try:
        with urllib.request.urlopen(dash.url + "metrics", timeout=10) as r:
            text = r.read().decode()
    except Exception:
        return {}
    return {name: float(value) for name, value in COUNTERS.findall(text)}


def _phase(cp: ClientProcess, spec: dict[str, Any], dash: Dashboard, broker: Any, fleet: LiveFleet,
           seconds: float, label: str) -> dict[str, Any]:
    say(f"{label}: measuring {seconds:.0f} s")
    before = relay_counters(dash)
    t_a = time.time() * 1000
    with Machine(broker, relay=dash.pid, clients=cp.pid) as machine, Usage(dash.pid, interval=0.5) as relay:
        cp.measure(t_a, t_a + seconds * 1000)
        time.sleep(seconds)
    result = cp.stop(grace=2.0)
    after = relay_counters(dash)
    s = summarize_ws(result, seconds)
    s["machine"], s["relay"] = machine, relay
    s["expected_points"] = sum(fleet.points_between(t_a, t_a + seconds * 1000, subscription_hosts(spec, i))
                               for i in range(s["detailed_clients"]))
    s["counters"] = {k: after[k] - before.get(k, 0) for k in after if "clients" not in k}
    s["clients_now"] = dash.healthz().get("clients")
    return s


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, help="concurrent clients [1000; quick 300]")
    p.add_argument("--stalled", type=int, default=10, help="clients that stop reading in phase B")
    p.add_argument("--detailed", type=int, default=50, help="clients recording per-point latency")
    p.add_argument("--seconds", type=float, help="measured seconds of phase A [45; quick 12]")
    p.add_argument("--stall-seconds", type=float,
                   help="measured seconds of phase B, long enough for the relay to give up on them [75; quick 12]")
    p.add_argument("--hosts", type=int, default=50)
    p.add_argument("--metrics", type=int, default=20)
    p.add_argument("--phase", choices=("aligned", "spread"), default="aligned")
    p.add_argument("--no-deflate", action="store_true", help="clients do not offer permessage-deflate")
    p.add_argument("--ws-compression", choices=("shared", "connection", "off"), default="shared",
                   help="the relay's DASH_WS_COMPRESSION [shared, its default]")
    p.add_argument("--hosts-per-client", type=int, default=0,
                   help="each client subscribes to this many hosts (round robin); 0: everything [0]")
    args = p.parse_args(argv)
    n = args.clients or (300 if args.quick else 1000)
    seconds = args.seconds or (12.0 if args.quick else 45.0)
    stall_seconds = args.stall_seconds or (12.0 if args.quick else 75.0)
    raise_fd_limit()
    header(f"Fan-out: {n:,} WebSocket clients on one relay process", args)
    with workdir("fanout", args.keep) as tmp, kafka(tmp) as broker:
        topic = new_topic(broker)
        dash = Dashboard(tmp, broker.bootstrap_servers, topic, "--ws-compression", args.ws_compression)
        fleet = cp = None
        try:
            dash.wait_up()
            fleet = LiveFleet(broker.bootstrap_servers, topic, host_names(args.hosts), metric_names(args.metrics),
                              phase=args.phase).start()
            wait_for(lambda: dash.healthz()["points"] > 0, 30, "first points in the relay's store")
            say(f"connecting {n:,} clients")
            spec = {"kind": "ws", "url": dash.ws_url, "n": n, "detailed": min(args.detailed, n),
                    "deflate": not args.no_deflate, "connect_batch": 50, "hosts": host_names(args.hosts),
                    "hosts_per_client": args.hosts_per_client}
            cp = ClientProcess(spec)
            connect_s = cp.connected(timeout=300)["connect_s"]
            say(f"{n:,} clients connected in {connect_s:.1f} s, all have their snapshot")
            time.sleep(2.0)
            a = _phase(cp, spec, dash, broker, fleet, seconds, "A: all clients reading")
            say(f"B: replacing {args.stalled} clients by stalled ones")
            cp.stall(args.stalled)
            time.sleep(1.0)
            b = _phase(cp, spec, dash, broker, fleet, stall_seconds, f"B: {args.stalled} stalled")
        finally:
            if cp is not None:
                cp.close()
            if fleet is not None:
                fleet.stop()
            dash.stop()

    def col(s: dict[str, Any]) -> list[str]:
        lat, relay = s["latency"], s["relay"]
        rss = [r for _, r in relay.rss] or [0]
        quarters = [rss[min(len(rss) - 1, i * (len(rss) - 1) // 4)] / 2**20 for i in range(5)]
        return [
            f"{s['clients']:,}",
            f"{s['machine'].percent('relay'):.0f} %",
            " → ".join(f"{q:.0f}" for q in quarters),
            f"{s['frames_delivered']:,} / {s['frames_expected']:,}",
            f"{s['detailed_points']:,} / {s['expected_points']:,}",
            f"{lat.percentile(50):.0f} / {lat.percentile(99):.0f} / {lat.percentile(100):.0f}",
            f"{s['frames_per_s']:.2f}",
            f"{s['wire_bytes_per_s']:,.0f}",
            f"{s['closed']} ({'; '.join(s['closed_reasons']) or '-'})",
            f"{s['gaps']}",
            f"{s['machine'].percent('clients'):.0f} %",
            f"{s['clients_now']}",
            ", ".join(f"{k} +{v:.0f}" for k, v in s["counters"].items() if v) or "-",
        ]

    labels = ["ordinary clients", "relay CPU (of one core)", "relay RSS MiB over the phase (5 samples)",
              "frames delivered / expected (all ordinary clients)",
              f"points delivered / produced ({args.detailed} detailed clients)",
              "latency p50 / p99 / max ms (detailed clients)", "frames per client per s",
              "bytes per client per s (wire)", "ordinary clients closed", "gaps / coalesced frames seen",
              "client-process CPU", "clients the relay counts at the end", "relay counters (/metrics) during phase"]
    print(f"{n:,} clients ({args.detailed} detailed), {args.hosts} hosts × {args.metrics} metrics at 1 Hz "
          f"({args.phase}), phase A {seconds:.0f} s, phase B {stall_seconds:.0f} s, "
          f"connect: {connect_s:.1f} s for all, "
          f"clients {'without' if args.no_deflate else 'with'} permessage-deflate "
          f"(relay DASH_WS_COMPRESSION={args.ws_compression}), each subscribed to "
          f"{f'{args.hosts_per_client} host(s)' if args.hosts_per_client else 'everything'}")
    print()
    print(table(["", "A: all reading", f"B: {args.stalled} stalled"],
                [[label, x, y] for label, x, y in zip(labels, col(a), col(b), strict=True)]))
    print()
    print(f"stalled clients the relay had closed by the end of B: {n - (b['clients_now'] or 0)} of {args.stalled} "
          f"(it still counted {b['clients_now']} clients)")
    print(f"CPU during A: {a['machine'].summary()}")
    print(f"CPU during B: {b['machine'].summary()}")
    lost = a["frames_delivered"] < a["frames_expected"] or a["detailed_points"] < a["expected_points"]
    cpu = a["machine"].percent("relay")
    print(f"target < 25 % of a core and nothing lost: relay {cpu:.0f} %, "
          f"{'something lost' if lost else 'nothing lost'} → {'met' if cpu < 25 and not lost else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
