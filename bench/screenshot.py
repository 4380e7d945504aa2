"""Pictures of the page for the README: docs/img/dashboard.png (light) and docs/img/dashboard-dark.png.

Starts what it needs on loopback — a local broker (or KAFKA_BOOTSTRAP_SERVERS), a topic, the
dashboard — and fills the topic with 15 minutes of a small simulated fleet (six hosts, smooth
seeded random walks, so the picture is the same every time apart from the clock), keeps it live at
1 Hz, lets one host fall silent so the picture shows a stale series, then drives headless Chromium.

    python -m bench.screenshot [--out docs/img] [--width 1440] [--height 960] [--query window=1h]
"""

from __future__ import annotations

import argparse
import math
import random
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import orjson

from bench.common import ROOT, Dashboard, chromium, kafka, new_topic, producer_conf, say, wait_for, workdir

HOSTS = ("web-1", "web-2", "web-3", "web-4", "db-1", "cache-1")
SILENT = "cache-1"  # stops 30 s before the picture: shown greyed, with its age
HISTORY_S = 900
STEP_S = 2


class Walk:
    """A bounded random walk around a level with a slow daily-ish wave; seeded per host and metric."""

    def __init__(self, seed: str, level: float, spread: float, lo: float, hi: float) -> None:
        self.rng = random.Random(seed)
        self.level, self.spread, self.lo, self.hi = level, spread, lo, hi
        self.value = level
        self.phase = self.rng.uniform(0, 2 * math.pi)

    def step(self, t: float) -> float:
        target = self.level + self.spread * math.sin(t / 240 + self.phase)
        self.value += (target - self.value) * 0.15 + self.rng.gauss(0, self.spread * 0.12)
        if self.rng.random() < 0.01:  # the odd spike
            self.value += self.spread * self.rng.uniform(1, 2.5)
        self.value = min(self.hi, max(self.lo, self.value))
        return self.value


def fleet_walks(host: str) -> dict[str, Walk]:
    r = random.Random(host)
    busy = {"db-1": 55, "cache-1": 20}.get(host, 25 + 10 * r.random())
    gib = 2**30
    total = 32 * gib if host == "db-1" else 16 * gib
    return {
        "cpu.percent": Walk(host + "cpu", busy, 12, 1, 100),
        "cpu.iowait_percent": Walk(host + "io", 6 if host == "db-1" else 1.5, 2, 0, 40),
        "load.1m": Walk(host + "load", busy / 25, 0.6, 0, 16),
        "mem.used_percent": Walk(host + "mem", 60 if host == "db-1" else 35 + 15 * r.random(), 4, 5, 98),
        "mem.used_bytes": Walk(host + "memb", total * 0.5, total * 0.05, 0, total),
        "disk.read_bytes_per_s": Walk(host + "dr", 40e6 if host == "db-1" else 3e6, 2e6, 0, 400e6),
        "disk.write_bytes_per_s": Walk(host + "dw", 25e6 if host == "db-1" else 5e6, 3e6, 0, 400e6),
        "disk.reads_per_s": Walk(host + "dro", 900 if host == "db-1" else 60, 40, 0, 20000),
        "disk.writes_per_s": Walk(host + "dwo", 500 if host == "db-1" else 120, 50, 0, 20000),
        "net.rx_bytes_per_s": Walk(host + "rx", 12e6 if host.startswith("web") else 4e6, 2e6, 0, 1.2e9),
        "net.tx_bytes_per_s": Walk(host + "tx", 30e6 if host.startswith("web") else 8e6, 4e6, 0, 1.2e9),
        "agent.cpu_percent": Walk(host + "acpu", 0.8, 0.3, 0.1, 10),
        "agent.rss_bytes": Walk(host + "arss", 48 * 2**20, 2 * 2**20, 30 * 2**20, 90 * 2**20),
    }


class Fleet:
    """Fills the topic with HISTORY_S of samples, then sends one per host per second until stopped."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        from confluent_kafka import Producer

        self.topic = topic
        self.producer = Producer(producer_conf(bootstrap))
        self.walks = {h: fleet_walks(h) for h in HOSTS}
        self.seq = dict.fromkeys(HOSTS, 0)
        self.silent_from: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._live, daemon=True)

    def _send(self, host: str, ts_ms: int) -> None:
        metrics = {m: round(w.step(ts_ms / 1000), 2) for m, w in self.walks[host].items()}
        doc = {"v": 1, "host": host, "ts": ts_ms, "seq": self.seq[host], "metrics": metrics}
        self.seq[host] += 1
        self.producer.produce(self.topic, orjson.dumps(doc), host.encode())

    def history(self) -> None:
        now = int(time.time() * 1000)
        for k in range(HISTORY_S // STEP_S, 0, -1):
            for host in HOSTS:
                self._send(host, now - k * STEP_S * 1000)
            self.producer.poll(0)
        if self.producer.flush(30):
            raise RuntimeError("history not delivered")

    def start(self) -> None:
        self._thread.start()

    def _live(self) -> None:
        while not self._stop.wait(1.0 - time.time() % 1.0):
            now = time.time()
            for host in HOSTS:
                if host == SILENT and self.silent_from is not None and now >= self.silent_from:
                    continue
                self._send(host, int(now * 1000))
            self.producer.poll(0)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.producer.flush(10)


def shoot(browser, url: str, path: Path, width: int, height: int, color_scheme: str) -> None:
    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=color_scheme,
                                  device_scale_factor=1)
    page = context.new_page()
    try:
        page.goto(url)
        ready = """(n) => { const s = window.dash_clientside.metrics.debugState();
            return s && s.fullDrawAt && s.hosts.length === n && s.series.some(x => x.stale !== null); }"""
        wait_for(lambda: page.evaluate(ready, len(HOSTS)), 60, "every host drawn, one of them stale")
        time.sleep(1.5)  # one more live second, so the lines reach the right edge
        page.mouse.move(width - 5, height - 5)  # no hover effects in the picture
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path))
        say(f"wrote {path}")
    finally:
        context.close()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "docs" / "img"), help="directory for the PNG files")
    p.add_argument("--width", type=int, default=1440)
    p.add_argument("--height", type=int, default=960)
    p.add_argument("--query", default="", help="view state for the pictures, e.g. 'window=1h&hosts=web-*'")
    p.add_argument("--keep", action="store_true", help="keep the tmp dir (logs)")
    args = p.parse_args(argv)
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    with workdir("screenshot", args.keep) as tmp, kafka(tmp) as broker, sync_playwright() as pw:
        topic = new_topic(broker, prefix="screenshot")
        fleet = Fleet(broker.bootstrap_servers, topic)
        fleet.history()
        fleet.start()
        dash = Dashboard(tmp, broker.bootstrap_servers, topic, "--stale-seconds", "10", name="dash")
        browser = chromium(pw)
        try:
            dash.wait_up()
            wait_for(lambda: dash.healthz()["backfill_progress"] >= 1, 60, "the backfill")
            fleet.silent_from = time.time()
            time.sleep(14)  # past --stale-seconds, so the picture shows one stale host
            url = dash.url + ("?" + args.query if args.query else "")
            shoot(browser, url, out / "dashboard.png", args.width, args.height, "light")
            shoot(browser, url, out / "dashboard-dark.png", args.width, args.height, "dark")
        finally:
            browser.close()
            dash.stop()
            fleet.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
