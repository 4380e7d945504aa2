"""Relay latency: simulated hosts at 1 Hz → Kafka → relay → N WebSocket clients in another process.

Latency of a point = wall-clock time the client process has the decoded frame − the point's sample
ts (set by the simulated agent just before it hands the message to librdkafka). Everything runs on
one machine, so both ends read the same clock. Target (issue #4): p99 ≤ 100 ms on loopback.

    python -m bench.bench_latency [--quick] [--clients 10,100] [--seconds 30]
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from bench.common import (
    ClientProcess,
    Dashboard,
    KafkaHop,
    LiveFleet,
    Usage,
    header,
    host_names,
    kafka,
    metric_names,
    new_topic,
    parser,
    raise_fd_limit,
    say,
    summarize_ws,
    table,
    wait_for,
    workdir,
)


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--hosts", type=int, default=50)
    p.add_argument("--metrics", type=int, default=20)
    p.add_argument("--clients", default="10,100", help="comma-separated client counts, one phase each")
    p.add_argument("--seconds", type=float, help="measured seconds per phase [30; quick 10]")
    p.add_argument("--phase", choices=("spread", "aligned"), default="spread",
                   help="hosts send at i/n of each second (spread) or all at once (aligned)")
    p.add_argument("--no-deflate", action="store_true", help="clients do not offer permessage-deflate")
    p.add_argument("--ws-compression", choices=("shared", "connection", "off"), default="shared",
                   help="the relay's DASH_WS_COMPRESSION [shared, its default]")
    p.add_argument("--frame-interval", type=float, default=0.05, help="the relay's DASH_FRAME_INTERVAL [0.05]")
    args = p.parse_args(argv)
    seconds = args.seconds or (10.0 if args.quick else 30.0)
    counts = [int(x) for x in args.clients.split(",")]
    raise_fd_limit()
    header("Relay latency: produce → WebSocket client receipt", args)
    rows = []
    with workdir("latency", args.keep) as tmp, kafka(tmp) as broker:
        topic = new_topic(broker)
        dash = Dashboard(tmp, broker.bootstrap_servers, topic, "--ws-compression", args.ws_compression,
                         "--frame-interval", str(args.frame_interval))
        fleet = hop = None
        try:
            dash.wait_up()
            fleet = LiveFleet(broker.bootstrap_servers, topic, host_names(args.hosts), metric_names(args.metrics),
                              phase=args.phase).start()
            hop = KafkaHop(broker.bootstrap_servers, topic)
            wait_for(lambda: dash.healthz()["points"] > 0, 30, "first points in the relay's store")
            for n in counts:
                say(f"{n} clients: connecting")
                cp = ClientProcess({"kind": "ws", "url": dash.ws_url, "n": n, "detailed": n,
                                    "deflate": not args.no_deflate})
                try:
                    cp.connected()
                    time.sleep(1.0)
                    say(f"{n} clients: measuring {seconds:.0f} s")
                    t_a = time.time() * 1000
                    hop.reset()
                    with Usage(dash.pid) as relay, Usage(cp.pid) as cli:
                        cp.measure(t_a, t_a + seconds * 1000)
                        time.sleep(seconds)
                    result = cp.stop()
                finally:
                    cp.close()
                s = summarize_ws(result, seconds)
                expected = fleet.points_between(t_a, t_a + seconds * 1000) * s["detailed_clients"]
                lat = s["latency"]
                rows.append([
                    n, f"{hop.hist.percentile(50):.0f} / {hop.hist.percentile(99):.0f}", lat.count,
                    lat.percentile(50), lat.percentile(90), lat.percentile(99), lat.percentile(100),
                    s["fresh"].percentile(50), f"{s['frames_per_s']:.1f}", s["gaps"],
                    f"{s['detailed_points']:,} / {expected:,}", f"{relay.cpu_percent:.0f} %",
                    f"{cli.cpu_percent:.0f} %",
                ])
        finally:
            if hop is not None:
                hop.close()
            if fleet is not None:
                fleet.stop()
            dash.stop()
    print(f"{args.hosts} hosts × {args.metrics} metrics at 1 Hz ({args.phase}), {seconds:.0f} s per phase, "
          f"clients {'without' if args.no_deflate else 'with'} permessage-deflate (as browsers); relay "
          f"DASH_WS_COMPRESSION={args.ws_compression}, DASH_FRAME_INTERVAL={args.frame_interval:g}")
    print()
    print(table(["clients", "Kafka hop p50 / p99 ms", "points timed", "p50 ms", "p90 ms", "p99 ms", "max ms",
                 "newest-point age p50 ms", "frames/s per client", "gaps", "points delivered / produced",
                 "relay CPU", "client proc CPU"],
                rows))
    print()
    print("Kafka hop: a plain consumer in the bench process polling message by message (what the broker "
          "alone costs); the other columns are per point at the WebSocket clients.")
    worst = max((float(r[5]) for r in rows), default=float("nan"))
    print(f"target p99 ≤ 100 ms: worst p99 {worst:.0f} ms → {'met' if worst <= 100 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
