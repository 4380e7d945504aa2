"""Push vs poll, side by side in one run: the same data to the same number of clients.

(a) push: our relay (`python -m dash_app`), N WebSocket clients (ready → snapshot → data frames),
    offering permessage-deflate as browsers do;
(b) poll: the usual Dash approach (bench/poll_peer.py): dcc.Interval 1 s → server callback →
    extendData with the points since the page's cursor; N clients POST `_dash-update-component`
    like the Dash renderer.

Both servers consume the same topic fed by 50 simulated hosts × 20 metrics at 1 Hz and run the whole
time; the phases take turns so the clients of one never compete with the other's server for CPU.
Server CPU is measured over each phase and, to isolate the per-client cost, also with no client
(the Kafka consumer alone). Freshness = age of a point when it arrives at the client (per point; the
age of the newest point of each message is printed too). A third phase repeats push with clients that
do not offer permessage-deflate, to show what per-connection compression costs the relay.
Target (issue #4): push ≤ 1/5 of poll's CPU per client and ≥ 10× fresher.

    python -m bench.bench_push_vs_poll [--quick] [--clients 50] [--seconds 30]
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from bench.common import (
    Child,
    ClientProcess,
    Dashboard,
    Histogram,
    LiveFleet,
    Machine,
    Usage,
    get_json,
    header,
    host_names,
    kafka,
    metric_names,
    new_topic,
    parser,
    pick_free_ports,
    raise_fd_limit,
    say,
    table,
    wait_for,
    workdir,
)


def _phase(name: str, spec: dict[str, Any], server_pid: int, broker: Any, seconds: float,
           fleet: LiveFleet) -> dict[str, Any]:
    n = spec["n"]
    say(f"{name}: {n} clients connecting")
    cp = ClientProcess(spec)
    try:
        cp.connected()
        time.sleep(2.0)
        say(f"{name}: measuring {seconds:.0f} s")
        t_a = time.time() * 1000
        with Machine(broker, server=server_pid, clients=cp.pid) as machine:
            cp.measure(t_a, t_a + seconds * 1000)
            time.sleep(seconds)
        result = cp.stop(grace=2.0)
    finally:
        cp.close()
    clients = result["clients"]
    detailed = [c for c in clients if c["detailed"]]
    return {
        "machine": machine,
        "cpu": machine.percent("server"),
        "clients_cpu": machine.percent("clients"),
        "wire_in": sum(c["wire_bytes"] for c in clients) / n / seconds,
        "wire_out": sum(c.get("wire_out", 0) for c in clients) / n / seconds,
        "payload": sum(c["msg_bytes"] for c in clients) / n / seconds,
        "messages": sum(c["frames"] for c in clients) / n / seconds,
        "latency": Histogram.from_dict(result["latency"]),
        "fresh": Histogram.from_dict(result["fresh"]),
        "delivered": sum(c["points_in_window"] for c in detailed),
        "expected": fleet.points_between(t_a, t_a + seconds * 1000) * len(detailed),
        "closed": sum(1 for c in clients if c["closed"]),
        "gaps": sum(c["gaps"] + c["gap_frames"] for c in clients),
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, help="clients per phase [50; quick 20]")
    p.add_argument("--seconds", type=float, help="measured seconds per phase [30; quick 12]")
    p.add_argument("--idle-seconds", type=float, default=5.0, help="no-client baseline per server")
    p.add_argument("--hosts", type=int, default=50)
    p.add_argument("--metrics", type=int, default=20)
    p.add_argument("--poll-server", choices=("uvicorn", "flask"), default="uvicorn")
    p.add_argument("--ws-compression", choices=("shared", "connection", "off"), default="shared",
                   help="the relay's DASH_WS_COMPRESSION [shared, its default]")
    p.add_argument("--frame-interval", type=float, default=0.05, help="the relay's DASH_FRAME_INTERVAL [0.05]")
    args = p.parse_args(argv)
    n = args.clients or (20 if args.quick else 50)
    seconds = args.seconds or (12.0 if args.quick else 30.0)
    raise_fd_limit()
    header("Push (WebSocket relay) vs poll (Dash dcc.Interval 1 s)", args)
    with workdir("push-poll", args.keep) as tmp, kafka(tmp) as broker:
        topic = new_topic(broker)
        bs = broker.bootstrap_servers
        dash = Dashboard(tmp, bs, topic, "--ws-compression", args.ws_compression,
                         "--frame-interval", str(args.frame_interval))
        peer_port = pick_free_ports(1)[0]
        peer_url = f"http://127.0.0.1:{peer_port}/"
        peer = Child(["-m", "bench.poll_peer", "--port", str(peer_port), "--bootstrap-servers", bs, "--topic", topic,
                      "--server", args.poll_server], tmp / "poll_peer.log")
        fleet = None
        try:
            dash.wait_up()
            wait_for(lambda: get_json(peer_url + "healthz"), 60, "the polling peer")
            fleet = LiveFleet(bs, topic, host_names(args.hosts), metric_names(args.metrics)).start()
            wait_for(lambda: dash.healthz()["points"] > 0 and get_json(peer_url + "healthz")["points"] > 0, 30,
                     "points in both servers")
            time.sleep(2.0)
            say(f"idle baseline ({args.idle_seconds:.0f} s, no clients)")
            with Usage(dash.pid) as idle_push, Usage(peer.pid) as idle_poll:
                time.sleep(args.idle_seconds)
            push = _phase("push", {"kind": "ws", "url": dash.ws_url, "n": n, "detailed": n}, dash.pid, broker,
                          seconds, fleet)
            raw = _phase("push without deflate", {"kind": "ws", "url": dash.ws_url, "n": n, "detailed": n,
                                                  "deflate": False}, dash.pid, broker, seconds, fleet)
            poll = _phase("poll", {"kind": "poll", "url": peer_url, "n": n, "detailed": n}, peer.pid, broker,
                          seconds, fleet)
        finally:
            if fleet is not None:
                fleet.stop()
            dash.stop()
            peer.stop()

    push["idle"], poll["idle"] = idle_push.cpu_percent, idle_poll.cpu_percent
    raw["idle"] = push["idle"]
    for r in (push, poll, raw):
        r["per_client"] = max(0.0, r["cpu"] - r["idle"]) / n

    def ratio(a: float, b: float) -> str:
        return f"{b / a:.1f}×" if a > 0 else "∞"

    def row(label: str, fmt: Any, key: Any = None) -> list[str]:
        cells = [fmt(r) for r in (push, poll)]
        out = [label, *cells]
        if key is not None:
            out.append(ratio(key(push), key(poll)))
        else:
            out.append("")
        out.append(fmt(raw))
        return out

    def pct(h: str, q: float) -> Any:
        return lambda r: r[h].percentile(q)

    rows = [
        row("server CPU, % of one core", lambda r: f"{r['cpu']:.1f}", lambda r: r["cpu"]),
        row("  of which no-client baseline (Kafka consumer)", lambda r: f"{r['idle']:.1f}"),
        row("**server CPU per client** (above baseline), % of a core", lambda r: f"{r['per_client']:.3f}",
            lambda r: r["per_client"]),
        row("bytes per client per s, down (on the wire)", lambda r: f"{r['wire_in']:,.0f}", lambda r: r["wire_in"]),
        row("bytes per client per s, up", lambda r: f"{r['wire_out']:,.0f}" if r is poll else "≈ 0"),
        row("JSON payload per client per s (uncompressed)", lambda r: f"{r['payload']:,.0f}", lambda r: r["payload"]),
        row("messages per client per s (frames / responses)", lambda r: f"{r['messages']:.1f}"),
        row("**freshness** p50: age of each point on arrival, ms", lambda r: f"{pct('latency', 50)(r):.0f}",
            pct("latency", 50)),
        row("freshness p99, ms", lambda r: f"{pct('latency', 99)(r):.0f}", pct("latency", 99)),
        row("freshness mean, ms", lambda r: f"{r['latency'].mean:.0f}", lambda r: r["latency"].mean),
        row("age of the newest point of each message p50 / p99, ms",
            lambda r: f"{pct('fresh', 50)(r):.0f} / {pct('fresh', 99)(r):.0f}"),
        row("points delivered / produced (all clients)", lambda r: f"{r['delivered']:,} / {r['expected']:,}"),
        row("client-process CPU, % of one core", lambda r: f"{r['clients_cpu']:.0f}"),
        row("clients closed / gaps", lambda r: f"{r['closed']} / {r['gaps']}"),
    ]
    print(f"{n} clients per phase, {seconds:.0f} s each; {args.hosts} hosts × {args.metrics} metrics at 1 Hz "
          f"(spread); poll peer served by {args.poll_server}; relay DASH_WS_COMPRESSION={args.ws_compression}, "
          f"DASH_FRAME_INTERVAL={args.frame_interval:g}")
    print()
    print(table(["", "push (relay)", "poll (Dash Interval)", "poll / push", "push, clients without deflate"],
                rows))
    print()
    print("Browsers offer permessage-deflate and the relay accepts it, so the push column is what pages get; the "
          "last column shows what compression costs the relay. Freshness is per point: "
          "with 50 hosts spread over each second, the newest point of any message is always recent, so that "
          "row says little.")
    print()
    print(f"CPU during push: {push['machine'].summary()}")
    print(f"CPU during poll: {poll['machine'].summary()}")
    print(f"CPU during push without deflate: {raw['machine'].summary()}")
    cpu_ok = push["per_client"] * 5 <= poll["per_client"]
    fresh_ok = push["latency"].percentile(50) * 10 <= poll["latency"].percentile(50)
    print(f"target push CPU per client ≤ 1/5 of poll's: {'met' if cpu_ok else 'NOT met'}; "
          f"target ≥ 10× fresher (p50): {'met' if fresh_ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
