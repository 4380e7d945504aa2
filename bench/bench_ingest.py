"""Relay ingest: how many v1 messages per second the dashboard process reads from Kafka and stores.

1. Drain: the topic is pre-filled with ≥ 1 M messages (50 hosts × 20 metrics, sample times spread
   over the last 12 min, i.e. inside the relay's 15-min replay window); a fresh dashboard replays
   them. Progress comes from its /healthz (`messages_consumed`, `points`), polled every 0.2 s; the
   rate is taken between 10 % and 90 % of the points stored (start-up and tail excluded).
2. Sustain: live messages at a fixed rate (default 20 k msg/s) for a while; the relay keeps up when
   everything is stored soon after the producer stops (Kafka lag alone says nothing: the consumer
   thread can be current while the samples wait in the hub's queue for the event loop).

The Grafana Kafka data-source plugin's published ceiling is about 1–2 k msg/s end to end; that is a
cross-machine figure from its users, not measured here, so the ratio is only indicative.

    python -m bench.bench_ingest [--quick] [--messages 1000000] [--rate 20000]
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from bench.common import (
    Dashboard,
    Machine,
    Usage,
    encode,
    header,
    host_names,
    kafka,
    metric_names,
    new_topic,
    parser,
    prefill,
    producer_conf,
    say,
    table,
    workdir,
)

GRAFANA_KAFKA_CEILING = (1_000, 2_000)  # msg/s, published (cross-machine)
SPAN_MS = 12 * 60 * 1000  # prefilled sample times: the last 12 min (inside the 15-min replay window)


class RateProducer:
    """`rate` msg/s over `hosts`, sample ts = now, in 10 ms slices; counts what it managed to send."""

    def __init__(self, bootstrap: str, topic: str, hosts: Sequence[str], metrics: Sequence[str], rate: float):
        from confluent_kafka import Producer

        self.topic, self.hosts, self.metrics, self.rate = topic, list(hosts), list(metrics), rate
        self._producer = Producer(producer_conf(bootstrap, **{"queue.buffering.max.messages": 1_000_000}))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.sent = 0
        self.last_ts: dict[str, int] = {}

    def start(self) -> RateProducer:
        self.t0 = time.monotonic()
        self._thread.start()
        return self

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        self.seconds = time.monotonic() - self.t0
        self._producer.flush(30)
        del self._producer
        return self.sent / self.seconds

    def _run(self) -> None:
        keys = [h.encode() for h in self.hosts]
        n = len(self.hosts)
        i = 0
        while not self._stop.is_set():
            due = int((time.monotonic() - self.t0) * self.rate) - self.sent
            now_ms = int(time.time() * 1000)
            for _ in range(max(0, due)):
                h = i % n
                host = self.hosts[h]
                ts = max(now_ms, self.last_ts.get(host, 0) + 1)  # strictly newer per host: never a duplicate
                self.last_ts[host] = ts
                try:
                    self._producer.produce(self.topic, encode(host, ts, i, self.metrics, h), keys[h])
                except BufferError:
                    self._producer.poll(0.01)
                    break
                self.sent += 1
                i += 1
            self._producer.poll(0)
            time.sleep(0.01)


class HealthPoller:
    """Reads /healthz back to back in a thread; a slow answer means the relay's event loop was busy.

    Each sample: t (answer time), wait (how long the answer took), consumed, points, lag, cpu (the
    relay's CPU seconds so far), duplicates.
    """

    def __init__(self, dash: Dashboard, interval: float = 0.2) -> None:
        import psutil

        self.dash, self.interval = dash, interval
        self.proc = psutil.Process(dash.pid)
        self.samples: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            asked = time.monotonic()
            try:
                h = self.dash.healthz(timeout=300)
            except Exception:
                if not self.dash.child.alive():
                    return
                continue
            now = time.monotonic()
            cpu = self.proc.cpu_times()
            self.samples.append({
                "t": now, "wait": now - asked, "consumed": h["messages_consumed"], "points": h["points"],
                "lag": h["kafka"]["lag"], "cpu": cpu.user + cpu.system, "duplicates": h.get("duplicate_points", 0)})
            self._stop.wait(self.interval)

    def last(self) -> dict[str, Any]:
        return self.samples[-1]

    def wait(self, predicate: Any, timeout: float) -> dict[str, Any] | None:
        """The first sample (from now on) satisfying predicate, or None after timeout."""
        seen = len(self.samples)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            while seen < len(self.samples):
                if predicate(self.samples[seen]):
                    return self.samples[seen]
                seen += 1
            time.sleep(0.05)
        return None

    def between(self, t_a: float, t_b: float) -> list[dict[str, Any]]:
        return [x for x in self.samples if t_a <= x["t"] <= t_b]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(310)


def _first(samples: list[dict[str, Any]], key: str, value: float) -> dict[str, Any] | None:
    return next((s for s in samples if s[key] >= value), None)


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--messages", type=int, help="messages to pre-fill [1,000,000; quick 200,000]")
    p.add_argument("--hosts", type=int, default=50)
    p.add_argument("--metrics", type=int, default=20)
    p.add_argument("--rate", type=float, default=20_000, help="sustained phase: messages per second")
    p.add_argument("--sustain-seconds", type=float, help="sustained phase length [15; quick 8]")
    p.add_argument("--partitions", type=int, default=3)
    args = p.parse_args(argv)
    total = args.messages or (200_000 if args.quick else 1_000_000)
    sustain_s = args.sustain_seconds or (8.0 if args.quick else 15.0)
    hosts, metrics = host_names(args.hosts), metric_names(args.metrics)
    per_host = -(-total // len(hosts))
    header("Relay ingest: messages per second read from Kafka and stored", args)
    with workdir("ingest", args.keep) as tmp, kafka(tmp) as broker:
        topic = new_topic(broker, partitions=args.partitions)
        say(f"pre-filling {per_host * len(hosts):,} messages ({args.hosts} hosts × {args.metrics} metrics)")
        first_ts = int(time.time() * 1000) - SPAN_MS
        sent, fill_s = prefill(broker.bootstrap_servers, topic, hosts, metrics, per_host, first_ts,
                               SPAN_MS / per_host)
        say(f"pre-filled {sent:,} messages in {fill_s:.1f} s ({sent / fill_s:,.0f} msg/s)")
        want_points = sent * len(metrics)
        max_points = per_host + int(args.rate / len(hosts) * sustain_s * 1.5) + 1000
        dash = Dashboard(tmp, broker.bootstrap_servers, topic, "--max-points", str(max_points))
        poller = None
        try:
            spawned = time.monotonic()
            up_s = dash.wait_up()
            poller = HealthPoller(dash)
            with Machine(broker, relay=dash.pid) as machine:
                done = poller.wait(lambda x: x["points"] >= want_points, 170) or poller.last()
            if done["points"] < want_points:
                say(f"stopped waiting: {done['points']:,} of {want_points:,} points stored")
            stored_s = done["t"] - spawned - up_s
            msg_rate = done["points"] / len(metrics) / stored_s  # from /healthz up (consumer start) to all stored
            a = _first(poller.samples, "points", 0.1 * want_points)
            b = _first(poller.samples, "points", 0.9 * want_points)
            mid = "n/a (too few /healthz answers while draining)"
            if a is not None and b is not None and b["t"] > a["t"] and b is not done:
                mid_rate = (b["points"] - a["points"]) / len(metrics) / (b["t"] - a["t"])
                mid = f"{mid_rate:,.0f} msg/s"
            consumed_at = _first(poller.samples, "consumed", sent)
            drain = [
                ["messages pre-filled", f"{sent:,}"],
                ["pre-fill (librdkafka, lz4, idempotent, batches)", f"{fill_s:.1f} s, {sent / fill_s:,.0f} msg/s"],
                ["dashboard up (/healthz answers)", f"{up_s:.1f} s after spawn"],
                ["all consumed (as /healthz first reports it)",
                 f"{consumed_at['t'] - spawned:.1f} s after spawn" if consumed_at else "no"],
                ["all stored (points = messages × metrics)",
                 f"{done['t'] - spawned:.1f} s after spawn" if done["points"] >= want_points
                 else f"no ({done['points']:,})"],
                ["**ingest rate** (up → all stored)",
                 f"**{msg_rate:,.0f} msg/s** = {msg_rate * len(metrics):,.0f} points/s"],
                ["ingest rate between 10 and 90 % of points", mid],
                ["messages stored per CPU-second of the relay (≈ msg/s on a core of its own)",
                 f"{sent / max(1e-9, machine.cpu_seconds('relay')):,.0f}"],
                ["CPU while draining (% of one core)", machine.summary()],
                ["relay RSS when all stored", f"{machine.rss_mb('relay'):,.0f} MiB"],
                ["duplicate points counted by the relay", done["duplicates"]],
                ["/healthz answers while draining / slowest",
                 f"{len(poller.between(0, done['t']))} / {max(x['wait'] for x in poller.samples):.1f} s"],
            ]

            say(f"sustained phase: {args.rate:,.0f} msg/s for {sustain_s:.0f} s")
            t_a = time.monotonic()
            rp = RateProducer(broker.bootstrap_servers, topic, hosts, metrics, args.rate).start()
            with Usage(dash.pid) as use, Machine(broker, relay=dash.pid) as machine:
                time.sleep(sustain_s)
            produced_rate = rp.stop()
            t_b = time.monotonic()
            total_points = (sent + rp.sent) * len(metrics)
            caught_up = poller.wait(lambda x: x["points"] >= total_points, 150)
            live = [x for x in poller.samples if x["t"] > t_a]
            slowest = max((x["wait"] for x in live), default=float("nan"))
            effective = rp.sent / (caught_up["t"] - t_a) if caught_up else float("nan")
            sustain = [
                ["offered (bench producer achieved)", f"{produced_rate:,.0f} msg/s ({rp.sent:,} messages)"],
                ["all of them stored",
                 f"{caught_up['t'] - t_b:.1f} s after the producer stopped" if caught_up else "not within 150 s"],
                ["**relay's sustained rate** (offered / time until all stored)", f"**{effective:,.0f} msg/s**"],
                ["messages per CPU-second of the relay (start → all stored)",
                 f"{rp.sent / max(1e-9, caught_up['cpu'] - use.cpu0):,.0f}" if caught_up else "n/a"],
                ["Kafka lag (consumer thread) max, as /healthz saw it between ticks",
                 f"{max((x['lag'] for x in live), default=0):,}"],
                ["/healthz answers / slowest", f"{len(live)} / {slowest:.1f} s"],
                ["relay RSS (peak)", f"{use.rss_mb('peak'):,.0f} MiB"],
                ["CPU (% of one core; bench = the producer)", machine.summary()],
            ]
        finally:
            dash.stop()
            if poller is not None:
                poller.stop()
    print(f"1. Drain: {args.hosts} hosts × {args.metrics} metrics, {args.partitions} partitions, "
          f"relay --max-points {max_points:,} (so every point is kept and counted)")
    print()
    print(table(["", "value"], drain))
    print()
    print(f"2. Sustain: {args.rate:,.0f} msg/s offered for {sustain_s:.0f} s")
    print()
    print(table(["", "value"], sustain))
    print()
    lo, hi = GRAFANA_KAFKA_CEILING
    print("While draining, the relay's event loop answers /healthz only between ticks: a long answer "
          "time is the time one tick spent moving samples into the store.")
    print(f"Target ≥ 20,000 msg/s: {msg_rate:,.0f} msg/s → {'met' if msg_rate >= 20_000 else 'NOT met'}")
    print(f"vs the Grafana Kafka plugin's published ceiling of {lo:,}–{hi:,} msg/s (cross-machine, not measured "
          f"here): {msg_rate / hi:.1f}× – {msg_rate / lo:.1f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
