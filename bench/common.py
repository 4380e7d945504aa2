"""Shared pieces of the benchmarks: broker, dashboard, simulated fleet, measuring, client processes.

Every bench is one script (`python -m bench.bench_x [--quick]`) that starts what it needs on loopback
(a broker from `broker.launcher` on free ports in a tmp dir unless KAFKA_BOOTSTRAP_SERVERS is set, the
dashboard as a child process), drives a bounded load, prints its figures to stdout and stops by itself.
Progress goes to stderr.

WebSocket (and polling) clients run in a *separate* process (`ClientProcess`), so their CPU never
competes with the server's inside one interpreter. The parent steers them over a pipe:
`connected` → `measure` → `stop` → result dict (→ `stall` → `measure` → `stop` …) → `exit`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import multiprocessing
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import psutil

from broker.launcher import (
    ExternalKafka,
    KafkaBroker,
    external_bootstrap,
    fetch_libs,
    pick_free_ports,
    spawn,
    terminate,
)

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# The simulated fleet: 50 hosts × 20 metrics unless a bench says otherwise.
METRIC_NAMES = (
    "cpu.percent", "cpu.user_percent", "cpu.system_percent", "cpu.iowait_percent",
    "load.1m", "load.5m", "load.15m",
    "mem.used_percent", "mem.used_bytes", "mem.available_bytes", "swap.used_percent",
    "disk.used_percent", "disk.read_bytes_per_s", "disk.write_bytes_per_s",
    "net.rx_bytes_per_s", "net.tx_bytes_per_s", "net.rx_packets_per_s", "net.tx_packets_per_s",
    "proc.count", "temp.cpu_celsius",
)  # fmt: skip


# --- output -------------------------------------------------------------------------------------


def say(message: str) -> None:
    """Progress line on stderr (figures go to stdout)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table, ready to paste into bench/README.md."""
    cells = [[str(c) for c in headers], *[[_fmt(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def header(title: str, args: argparse.Namespace) -> None:
    print(f"## {title}")
    print(
        f"{time.strftime('%Y-%m-%d %H:%M')} · {'quick' if args.quick else 'full'} run · "
        f"{psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB · "
        f"Python {sys.version.split()[0]} · broker: {external_bootstrap() or 'local (broker.launcher)'} · "
        f"load average {os.getloadavg()[0]:.1f} at start"
    )
    if os.getloadavg()[0] > (psutil.cpu_count() or 1):
        print(f"**Warning: the machine was already busy when this run started (load average "
              f"{os.getloadavg()[0]:.1f} on {psutil.cpu_count()} cores): CPU-bound figures are pessimistic.**")
    print()


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="shorter, smaller smoke run (what `make bench` runs)")
    p.add_argument("--keep", action="store_true", help="keep the tmp dir (logs) after the run")
    return p


# --- processes ----------------------------------------------------------------------------------


def raise_fd_limit() -> None:
    """1,000 sockets per side need more than the usual soft limit; children inherit the raised one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@contextlib.contextmanager
def workdir(name: str, keep: bool = False) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    ok = False
    try:
        yield path
        ok = True
    finally:
        if ok and not keep:
            shutil.rmtree(path, ignore_errors=True)
        else:
            say(f"logs kept in {path}")


class Child:
    """`python -m <module> ...` of ours: own process group, dies with us, stopped by its PID only."""

    def __init__(self, args: Sequence[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = spawn([sys.executable, *args], cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT,
                          env={**os.environ, **(env or {})})

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self, timeout: float = 15.0) -> int:
        status = terminate(self.proc, timeout)
        self._log.close()
        return status


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception as exc:  # not observable yet
            last = exc
        else:
            if value:
                return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what} (last error: {last!r})")


def get_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


@contextlib.contextmanager
def kafka(tmp: Path) -> Iterator[KafkaBroker | ExternalKafka]:
    """The broker every bench uses: KAFKA_BOOTSTRAP_SERVERS if set, else a fresh local one."""
    external = external_bootstrap()
    if external:
        say(f"using the external cluster {external}")
        yield ExternalKafka(external)
        return
    fetch_libs()
    broker = KafkaBroker(data_dir=tmp / "kafka")
    say("starting a local Kafka broker")
    broker.start()
    say(f"broker ready on {broker.bootstrap_servers} in {broker.startup_seconds:.1f} s")
    try:
        yield broker
    finally:
        broker.stop()


class Machine:
    """CPU of everything on the machine over a window: the given processes, and all the others.

    The others matter: on a shared 2-core machine a busy neighbour (a test run, another bench) takes
    CPU from the process under test. Percentages are of one core (the machine has cpu_count of them).
    """

    def __init__(self, broker: KafkaBroker | ExternalKafka | None = None, **pids: int) -> None:
        pids = {"bench": os.getpid(), **pids}
        broker_pid = broker.pid if isinstance(broker, KafkaBroker) else None
        if broker_pid is not None:
            pids["broker"] = broker_pid
        self._usages = {name: Usage(pid) for name, pid in pids.items()}

    @staticmethod
    def _busy() -> float:
        t = psutil.cpu_times()
        return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))

    def __enter__(self) -> Machine:
        self._busy0 = self._busy()
        for u in self._usages.values():
            u.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        for u in self._usages.values():
            u.stop()
        self._busy1 = self._busy()

    def percent(self, name: str) -> float:
        return self._usages[name].cpu_percent

    def rss_mb(self, name: str, which: str = "last") -> float:
        return self._usages[name].rss_mb(which)

    def cpu_seconds(self, name: str) -> float:
        return self._usages[name].cpu_seconds

    @property
    def others_percent(self) -> float:
        seconds = max(1e-9, next(iter(self._usages.values())).seconds)
        ours = sum(u.cpu_seconds for u in self._usages.values())
        return max(0.0, 100 * ((self._busy1 - self._busy0) - ours) / seconds)

    def summary(self) -> str:
        parts = [f"{name} {u.cpu_percent:.0f} %" for name, u in self._usages.items()]
        return ", ".join([*parts, f"other processes {self.others_percent:.0f} %"])


def new_topic(broker: KafkaBroker | ExternalKafka, partitions: int = 3, prefix: str = "bench") -> str:
    name = f"{prefix}-{os.urandom(4).hex()}"
    broker.create_topic(name, partitions=partitions)
    return name


class Dashboard:
    """`python -m dash_app` on a free port; `url` ends with the prefix ('/')."""

    def __init__(self, tmp: Path, bootstrap: str, topic: str, *extra: str, name: str = "dash",
                 env: dict[str, str] | None = None) -> None:
        self.port = pick_free_ports(1)[0]
        self.url = f"http://{HOST}:{self.port}/"
        self.ws_url = f"ws://{HOST}:{self.port}/ws"
        self.started = time.monotonic()
        self.child = Child(["-m", "dash_app", "--port", str(self.port), "--bootstrap-servers", bootstrap,
                            "--topic", topic, "--log-level", "warning", *extra], tmp / f"{name}.log", env)

    @property
    def pid(self) -> int:
        return self.child.pid

    def healthz(self, timeout: float = 5.0) -> dict[str, Any]:
        if not self.child.alive():
            raise RuntimeError(f"dashboard exited:\n{self.child.log_tail()}")
        return get_json(self.url + "healthz", timeout)

    def wait_up(self, timeout: float = 60.0) -> float:
        """Seconds from spawn until /healthz answered."""
        wait_for(self.healthz, timeout, "the dashboard's /healthz", interval=0.02)
        return time.monotonic() - self.started

    def stop(self) -> int:
        return self.child.stop()


# --- measuring ----------------------------------------------------------------------------------


class Usage:
    """CPU and RSS of one PID (all its threads) over a window, sampled by a background thread."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        self.proc = psutil.Process(pid)
        self.interval = interval
        self.rss: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Usage:
        self.t0 = time.monotonic()
        self.cpu0 = self._cpu()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join()
        self.t1 = time.monotonic()
        self.cpu1 = self._cpu()

    def _cpu(self) -> float:
        t = self.proc.cpu_times()
        return float(t.user + t.system)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with contextlib.suppress(psutil.Error):
                self.rss.append((time.monotonic() - self.t0, self.proc.memory_info().rss))

    @property
    def seconds(self) -> float:
        return self.t1 - self.t0

    @property
    def cpu_percent(self) -> float:
        """Percent of one core, averaged over the window."""
        return 100.0 * (self.cpu1 - self.cpu0) / max(1e-9, self.seconds)

    @property
    def cpu_seconds(self) -> float:
        return self.cpu1 - self.cpu0

    def rss_mb(self, which: str) -> float:
        values = [r for _, r in self.rss] or [0]
        pick = {"first": values[0], "last": values[-1], "peak": max(values)}[which]
        return pick / 2**20


class Histogram:
    """Millisecond buckets: exact percentiles at 1 ms resolution, mergeable across processes."""

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.count = 0
        self.total = 0.0

    def add(self, ms: float) -> None:
        b = int(ms) if ms > 0 else 0
        self.buckets[b] = self.buckets.get(b, 0) + 1
        self.count += 1
        self.total += ms

    def merge(self, other: Histogram | dict[str, Any]) -> None:
        if isinstance(other, dict):
            other = Histogram.from_dict(other)
        for b, n in other.buckets.items():
            self.buckets[b] = self.buckets.get(b, 0) + n
        self.count += other.count
        self.total += other.total

    def percentile(self, p: float) -> float:
        if not self.count:
            return float("nan")
        rank = p / 100 * self.count
        seen = 0
        for b in sorted(self.buckets):
            seen += self.buckets[b]
            if seen >= rank:
                return float(b)
        return float(max(self.buckets))

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {"buckets": {str(k): v for k, v in self.buckets.items()}, "count": self.count, "total": self.total}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Histogram:
        h = cls()
        h.buckets = {int(k): v for k, v in d["buckets"].items()}
        h.count, h.total = d["count"], d["total"]
        return h


def percentiles(values: Sequence[float], *ps: float) -> list[float]:
    if not values:
        return [float("nan")] * len(ps)
    ordered = sorted(values)
    return [ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))] for p in ps]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


# --- the simulated fleet ------------------------------------------------------------------------


def host_names(n: int) -> list[str]:
    return [f"sim-{i:03d}" for i in range(n)]


def metric_names(n: int) -> list[str]:
    return [METRIC_NAMES[i] if i < len(METRIC_NAMES) else f"sim.metric_{i:02d}" for i in range(n)]


_VALUES: dict[tuple[float, int, int], dict[str, float]] = {}


def encode(host: str, ts: int, seq: int, metrics: Sequence[str], phase: float) -> bytes:
    """One v1 message (docs/protocol.md) with plausible values, varying over a cycle of 64 samples."""
    key = (phase, seq % 64, len(metrics))
    values = _VALUES.get(key)
    if values is None:
        values = _VALUES[key] = {m: round((phase + 7.3 * i + seq * 0.37) % 100, 2) for i, m in enumerate(metrics)}
    return orjson.dumps({"v": 1, "host": host, "ts": ts, "seq": seq, "metrics": values})


def producer_conf(bootstrap: str, **extra: Any) -> dict[str, Any]:
    # Same delivery settings as the real agent (producer/sink.py): acks=all, lz4, linger 5 ms.
    conf = {"bootstrap.servers": bootstrap, "acks": "all", "compression.type": "lz4", "linger.ms": 5}
    conf.update(extra)
    return conf


def prefill(bootstrap: str, topic: str, hosts: Sequence[str], metrics: Sequence[str], per_host: int,
            first_ts: int, step_ms: float) -> tuple[int, float]:
    """Write per_host messages per host, ts = first_ts + k·step_ms, as fast as librdkafka takes them.

    Returns (messages, seconds). Large batches and lz4 keep a 1 M-message fill within seconds.
    """
    from confluent_kafka import Producer

    # Idempotence: a retried batch must not reorder a host's samples (the relay would count the
    # older ones as duplicates).
    producer = Producer(producer_conf(bootstrap, **{
        "enable.idempotence": True, "linger.ms": 50, "batch.size": 1_000_000,
        "queue.buffering.max.messages": 1_000_000, "queue.buffering.max.kbytes": 1_048_576}))
    failed = 0

    def on_delivery(err: Any, _msg: Any) -> None:
        nonlocal failed
        if err is not None:
            failed += 1

    started = time.monotonic()
    keys = [h.encode() for h in hosts]
    phases = [random.Random(h).uniform(0, 100) for h in hosts]
    sent = 0
    for k in range(per_host):
        ts = first_ts + int(k * step_ms)
        for h, host in enumerate(hosts):
            value = encode(host, ts, k, metrics, phases[h])
            while True:
                try:
                    producer.produce(topic, value, keys[h], on_delivery=on_delivery)
                    break
                except BufferError:
                    producer.poll(0.05)
            sent += 1
        if k % 50 == 0:
            producer.poll(0)
    remaining = producer.flush(120)
    del producer
    if remaining or failed:
        raise RuntimeError(f"prefill: {failed} failed, {remaining} not delivered of {sent}")
    return sent, time.monotonic() - started


class LiveFleet:
    """`hosts` simulated agents at `rate` Hz; ts = wall-clock time of the send (the sample time).

    phase="spread": host i sends at i/n of each period (independent agents); "aligned": all hosts at
    the top of each period (agents with aligned intervals, e.g. Telegraf's round_interval).
    """

    def __init__(self, bootstrap: str, topic: str, hosts: Sequence[str], metrics: Sequence[str],
                 rate: float = 1.0, phase: str = "spread") -> None:
        from confluent_kafka import Producer

        self.topic, self.hosts, self.metrics = topic, list(hosts), list(metrics)
        self.period = 1.0 / rate
        self.phase = phase
        self._producer = Producer(producer_conf(bootstrap))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fleet", daemon=True)
        self.sent_ts: list[int] = []  # ts of every message produced, in send order
        self.sent_host: list[int] = []  # index of its host
        self.failed = 0

    def start(self) -> LiveFleet:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._producer.flush(10)
        del self._producer  # before the broker stops, or librdkafka keeps reconnecting and logging

    def points_between(self, t_a: float, t_b: float, hosts: Sequence[str] | None = None) -> int:
        """Points (messages × metrics) whose ts lies in [t_a, t_b] (epoch ms), of `hosts` (default all)."""
        n = min(len(self.sent_ts), len(self.sent_host))
        if hosts is None:
            count = sum(1 for ts in self.sent_ts[:n] if t_a <= ts <= t_b)
        else:
            wanted = {self.hosts.index(h) for h in hosts}
            count = sum(1 for ts, h in zip(self.sent_ts[:n], self.sent_host[:n], strict=True)
                        if t_a <= ts <= t_b and h in wanted)
        return count * len(self.metrics)

    def _on_delivery(self, err: Any, _msg: Any) -> None:
        if err is not None:
            self.failed += 1

    def _run(self) -> None:
        n = len(self.hosts)
        offsets = [0.0] * n if self.phase == "aligned" else [i * self.period / n for i in range(n)]
        phases = [random.Random(h).uniform(0, 100) for h in self.hosts]
        base = (int(time.time() / self.period) + 1) * self.period
        seq = 0
        while not self._stop.is_set():
            for i, host in enumerate(self.hosts):
                due = base + offsets[i]
                delay = due - time.time()
                if delay > 0 and self._stop.wait(delay):
                    return
                ts = int(time.time() * 1000)
                self._producer.produce(self.topic, encode(host, ts, seq, self.metrics, phases[i]), host.encode(),
                                       on_delivery=self._on_delivery)
                self.sent_ts.append(ts)
                self.sent_host.append(i)
                self._producer.poll(0)
            seq += 1
            base += self.period
            while base + self.period < time.time():  # fell behind (machine busy): skip, never burst
                base += self.period


class KafkaHop:
    """The broker's share of the latency: a plain consumer polling message by message (no batching).

    Records now − sample ts for every message read while `on`; the relay cannot be faster than this.
    """

    def __init__(self, bootstrap: str, topic: str) -> None:
        from confluent_kafka import OFFSET_END, Consumer, TopicPartition

        self._consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{os.urandom(4).hex()}",
                                   "enable.auto.commit": False, "fetch.wait.max.ms": 5})
        parts = self._consumer.list_topics(topic, timeout=10).topics[topic].partitions
        self._consumer.assign([TopicPartition(topic, p, OFFSET_END) for p in parts])
        self.hist = Histogram()
        self.on = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kafka-hop", daemon=True)
        self._thread.start()

    def reset(self) -> None:
        self.hist = Histogram()
        self.on = True

    def _run(self) -> None:
        while not self._stop.is_set():
            msg = self._consumer.poll(0.05)
            if msg is None or msg.error() is not None:
                continue
            now = time.time() * 1000
            if self.on:
                self.hist.add(now - orjson.loads(msg.value() or b"{}").get("ts", now))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._consumer.close()


# --- WebSocket clients (run inside a ClientProcess) ---------------------------------------------


class _Recorder:
    """What all clients of one process record; only while `on` (between measure and stop)."""

    def __init__(self) -> None:
        self.on = False
        self.t_a = self.t_b = 0.0
        self.latency = Histogram()  # per point: receipt − sample ts (detailed clients only)
        self.fresh = Histogram()  # per frame with points: receipt − newest ts in it (detailed clients)

    def reset(self, t_a: float, t_b: float) -> None:
        self.t_a, self.t_b = t_a, t_b
        self.latency, self.fresh = Histogram(), Histogram()


def _counting_connection() -> type:
    from websockets.asyncio.client import ClientConnection

    class CountingConnection(ClientConnection):
        wire_in = 0

        def data_received(self, data: bytes) -> None:
            self.wire_in += len(data)
            super().data_received(data)

    return CountingConnection


class WsClient:
    """A page as the protocol sees it: ready → snapshot → data frames; resync on a gap.

    Follows docs/protocol.md and tolerates extra fields and frame types. A data frame with `prev`
    (the frame before it for this client's subscription) is contiguous when prev ≤ last seq; without
    `prev`, when seq == last + 1. `gap` frames (coalesced backlog) and gaps make it send `resync`.
    Detailed clients apply the page's rule (a point counts once, when its ts is newer than the
    series' newest) and record per-point latency and freshness.
    """

    def __init__(self, url: str, rec: _Recorder, detailed: bool, deflate: bool = True,
                 hosts: Sequence[str] | None = None) -> None:
        self.url, self.rec, self.detailed, self.deflate = url, rec, detailed, deflate
        self.hosts = list(hosts) if hosts else None  # subscription (docs/protocol.md); None: everything
        self.ws: Any = None
        self.last: int | None = None
        self.waiting_snapshot = True
        self.newest: dict[tuple[str, str], int] = {}
        self.closed: str | None = None
        self.reset()

    def reset(self) -> None:
        self.frames = self.data_frames = self.snapshots = self.gaps = self.gap_frames = 0
        self.points_in_window = 0
        self.wire0 = self.ws.wire_in if self.ws is not None else 0
        self.msg_bytes = 0
        self.seqs: list[int] = []

    async def connect(self) -> None:
        from websockets.asyncio.client import connect

        self.ws = await connect(self.url, compression="deflate" if self.deflate else None, max_size=None,
                                ping_interval=None, open_timeout=120, close_timeout=2,
                                create_connection=_counting_connection())
        self.wire0 = 0
        ready: dict[str, Any] = {"type": "ready"}
        if self.hosts:
            ready["hosts"] = self.hosts
        await self.ws.send(orjson.dumps(ready).decode())

    async def run(self) -> None:
        try:
            async for message in self.ws:
                self.on_message(message, time.time() * 1000)
        except Exception as exc:  # connection closed by the server, or by us at the end
            self.closed = f"{type(exc).__name__}: {exc}"[:200]
        else:
            code = getattr(self.ws.close_code, "value", self.ws.close_code) if self.ws else None
            self.closed = f"closed {code} {self.ws.close_reason if self.ws else ''}"[:200]

    def on_message(self, message: str | bytes, now: float) -> None:
        rec = self.rec
        frame = None if self.detailed else _frame_head(message)
        if frame is None:
            frame = orjson.loads(message)
        kind = frame.get("type")
        if rec.on:
            self.frames += 1
            self.msg_bytes += len(message)
        if kind == "snapshot":
            self.last = frame.get("seq")
            self.waiting_snapshot = False
            if rec.on:
                self.snapshots += 1
            if self.detailed:
                self._points(frame.get("series", ()), now, live=False)
            return
        if kind == "catchup":
            self.last = frame.get("seq", self.last)
            if self.detailed:
                self._points(frame.get("series", ()), now, live=True)
            return
        if kind == "gap":
            if rec.on:
                self.gap_frames += 1
            if self.detailed:
                self._points(frame.get("series", ()), now, live=True)
            self._resync()
            return
        if kind != "data" or self.waiting_snapshot:
            return
        seq = frame.get("seq")
        prev = frame.get("prev")
        if self.last is not None and isinstance(seq, int):
            if seq <= self.last:
                return  # duplicate
            contiguous = prev <= self.last if isinstance(prev, int) else seq == self.last + 1
            if not contiguous:
                if rec.on:
                    self.gaps += 1
                self._resync()
                return
        self.last = seq
        if rec.on:
            self.data_frames += 1
            self.seqs.append(seq)  # type: ignore[arg-type]
        if self.detailed:
            self._points(frame.get("series", ()), now, live=True)

    def _points(self, series: Any, now: float, live: bool) -> None:
        rec = self.rec
        newest_in_frame = 0
        for s in series:
            key = (s.get("host"), s.get("metric"))
            ts_list = s.get("ts") or ()
            last = self.newest.get(key, 0)
            fresh = [t for t in ts_list if t > last]
            if not fresh:
                continue
            self.newest[key] = fresh[-1]
            newest_in_frame = max(newest_in_frame, fresh[-1])
            if rec.on and live:
                for t in fresh:
                    rec.latency.add(now - t)
                    if rec.t_a <= t <= rec.t_b:
                        self.points_in_window += 1
        if rec.on and live and newest_in_frame:
            rec.fresh.add(now - newest_in_frame)

    def _resync(self) -> None:
        self.waiting_snapshot = True
        if self.ws is not None:
            asyncio.get_running_loop().create_task(self._send('{"type": "resync"}'))

    async def _send(self, text: str) -> None:
        with contextlib.suppress(Exception):
            await self.ws.send(text)

    def result(self) -> dict[str, Any]:
        return {
            "frames": self.frames, "data_frames": self.data_frames, "snapshots": self.snapshots,
            "gaps": self.gaps, "gap_frames": self.gap_frames, "points_in_window": self.points_in_window,
            "wire_bytes": (self.ws.wire_in if self.ws is not None else 0) - self.wire0,
            "msg_bytes": self.msg_bytes, "seqs": self.seqs, "closed": self.closed, "detailed": self.detailed,
            "hosts": self.hosts,
        }

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 3)


_TYPE = re.compile(r'^\{"type":"(\w+)"')
_INT_FIELD = re.compile(r'"(seq|prev)":(\d+)')


def _frame_head(message: str | bytes) -> dict[str, Any] | None:
    """type, seq and prev from the frame's head, without decoding its series (1,000 clients × ~80 KB
    frames would need more than one core to decode in full). None when the head is not the usual
    `{"type":…, …, "series":…` shape: the caller then decodes the whole frame."""
    head = message[:300] if isinstance(message, str) else message[:300].decode("utf-8", "replace")
    m = _TYPE.match(head)
    end = head.find('"series"')
    if m is None or end < 0:
        return None
    frame: dict[str, Any] = {"type": m.group(1)}
    for name, value in _INT_FIELD.findall(head[:end]):
        frame[name] = int(value)
    return frame


class StalledClient:
    """Opens the socket, says ready, then never reads again (a frozen tab, a dead mobile link)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        parts = urlsplit(self.url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write((f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                     .encode())
        status = await reader.readuntil(b"\r\n\r\n")
        if b" 101 " not in status.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"handshake refused: {status[:80]!r}")
        payload = b'{"type": "ready"}'
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        writer.write(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
        await writer.drain()
        writer.transport.pause_reading()  # type: ignore[attr-defined]
        self.writer = writer

    async def run(self) -> None:
        await asyncio.Event().wait()

    def result(self) -> dict[str, Any]:
        closing = self.writer is None or self.writer.transport.is_closing()
        return {"stalled": True, "closed": "closed" if closing else None}

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


# --- the client process ----------------------------------------------------------------------------


class ClientProcess:
    """N clients in a child process; `spec` says which kind ("ws" or "poll") and how many.

    spec keys: kind, url, n, detailed (how many record per-point latency), deflate (ws),
    connect_batch. Use: `connected()` → `measure(t_a)` → `stop(t_b, grace)` → result → ... → `close()`.
    """

    def __init__(self, spec: dict[str, Any]) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_client_main, args=(child, spec), daemon=True)
        self.proc.start()
        child.close()

    @property
    def pid(self) -> int:
        assert self.proc.pid is not None
        return self.proc.pid

    def _recv(self, timeout: float) -> Any:
        if not self._conn.poll(timeout):
            raise TimeoutError(f"client process did not answer in {timeout:.0f}s")
        reply = self._conn.recv()
        if reply[0] == "error":
            raise RuntimeError(f"client process failed: {reply[1]}")
        return reply[1]

    def connected(self, timeout: float = 180) -> dict[str, Any]:
        return self._recv(timeout)

    def measure(self, t_a_ms: float, t_b_ms: float) -> None:
        self._conn.send(("measure", t_a_ms, t_b_ms))

    def stop(self, grace: float = 1.5) -> dict[str, Any]:
        self._conn.send(("stop", grace))
        return self._recv(60 + grace)

    def stall(self, k: int) -> dict[str, Any]:
        """Close k ordinary clients and open k stalled ones."""
        self._conn.send(("stall", k))
        return self._recv(60)

    def close(self) -> None:
        with contextlib.suppress(OSError, BrokenPipeError):
            self._conn.send(("exit",))
        self.proc.join(15)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(5)


def _client_main(conn: Any, spec: dict[str, Any]) -> None:
    raise_fd_limit()
    try:
        asyncio.run(_client_async(conn, spec))
    except BaseException as exc:
        with contextlib.suppress(Exception):
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
        raise


def subscription_hosts(spec: dict[str, Any], i: int) -> list[str] | None:
    """Client i's hosts when spec has `hosts` and `hosts_per_client` (round robin), else None."""
    k, hosts = spec.get("hosts_per_client"), spec.get("hosts")
    if not k or not hosts:
        return None
    return [hosts[(i * k + j) % len(hosts)] for j in range(k)]


def _make_client(spec: dict[str, Any], rec: _Recorder, i: int) -> Any:
    detailed = i < spec.get("detailed", spec["n"])
    if spec["kind"] == "poll":
        from bench.poll_peer import PollClient

        return PollClient(spec["url"], rec, detailed)
    return WsClient(spec["url"], rec, detailed, deflate=spec.get("deflate", True), hosts=subscription_hosts(spec, i))


async def _client_async(conn: Any, spec: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    rec = _Recorder()
    n = spec["n"]
    clients = [_make_client(spec, rec, i) for i in range(n)]
    batch = spec.get("connect_batch", 50)
    started = time.monotonic()
    for i in range(0, n, batch):
        await asyncio.gather(*(c.connect() for c in clients[i:i + batch]))
    tasks = {c: asyncio.create_task(c.run()) for c in clients}
    connect_s = time.monotonic() - started
    if spec["kind"] == "ws":  # everyone has its snapshot before the window opens
        deadline = time.monotonic() + 120
        while any(c.waiting_snapshot for c in clients) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    conn.send(("ok", {"connect_s": connect_s, "clients": n}))
    while True:
        cmd = await loop.run_in_executor(None, conn.recv)
        if cmd[0] == "measure":
            rec.reset(cmd[1], cmd[2])
            for c in clients:
                c.reset() if hasattr(c, "reset") else None
            rec.on = True
        elif cmd[0] == "stop":
            await asyncio.sleep(cmd[1])  # let in-flight points of the window arrive
            rec.on = False
            conn.send(("ok", {"clients": [c.result() for c in clients], "latency": rec.latency.to_dict(),
                              "fresh": rec.fresh.to_dict()}))
        elif cmd[0] == "stall":
            k = cmd[1]
            leaving = [c for c in clients if not getattr(c, "detailed", False)][-k:]
            for c in leaving:
                tasks.pop(c).cancel()
                await c.close()
                clients.remove(c)
            stalled = [StalledClient(spec["url"]) for _ in range(k)]
            await asyncio.gather(*(s.connect() for s in stalled))
            for s in stalled:
                clients.append(s)
                tasks[s] = asyncio.create_task(s.run())
            conn.send(("ok", {"stalled": k}))
        elif cmd[0] == "exit":
            for t in tasks.values():
                t.cancel()
            await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
            return


# --- summarising client results ---------------------------------------------------------------------


def summarize_ws(result: dict[str, Any], seconds: float) -> dict[str, Any]:
    """Per-process totals: frames, gaps, delivered/expected frames over the common seq range."""
    normal = [c for c in result["clients"] if not c.get("stalled")]
    alive = [c for c in normal if c["closed"] is None]
    # Clients with one subscription get the same frames: compare each with its group's union of seqs.
    groups: dict[Any, list[dict[str, Any]]] = {}
    for c in alive:
        groups.setdefault(tuple(c.get("hosts") or ()), []).append(c)
    expected = delivered = 0
    for members in groups.values():
        seq_lists = [c["seqs"] for c in members if c["seqs"]]
        if not seq_lists:
            continue
        lo = max(s[0] for s in seq_lists)
        hi = min(s[-1] for s in seq_lists)
        union = {q for s in seq_lists for q in s if lo <= q <= hi}
        expected += len(union) * len(members)
        delivered += sum(sum(1 for q in c["seqs"] if lo <= q <= hi) for c in members)
    lat = Histogram.from_dict(result["latency"])
    fresh = Histogram.from_dict(result["fresh"])
    n = max(1, len(normal))
    return {
        "clients": len(normal),
        "closed": len(normal) - len(alive),
        "closed_reasons": sorted({c["closed"] for c in normal if c["closed"]})[:3],
        "stalled_closed": sum(1 for c in result["clients"] if c.get("stalled") and c["closed"]),
        "frames_per_s": sum(c["frames"] for c in normal) / n / seconds,
        "gaps": sum(c["gaps"] + c["gap_frames"] for c in normal),
        "frames_delivered": delivered,
        "frames_expected": expected,
        "wire_bytes_per_s": sum(c["wire_bytes"] for c in normal) / n / seconds,
        "msg_bytes_per_s": sum(c["msg_bytes"] for c in normal) / n / seconds,
        "detailed_points": sum(c["points_in_window"] for c in normal if c["detailed"]),
        "detailed_clients": sum(1 for c in normal if c["detailed"]),
        "latency": lat,
        "fresh": fresh,
    }


def chromium(playwright: Any) -> Any:
    if not (shutil.which(CHROMIUM) or os.path.exists(CHROMIUM)):
        raise RuntimeError(f"{CHROMIUM} is missing (Debian: apt-get install -y chromium)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
