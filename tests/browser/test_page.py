"""The page in real headless Chromium, fed by the real producer (or v1 messages we produce ourselves)
through the real broker and the real dashboard process: what is drawn, exactly once, in both renderers.

One dashboard (``--stale-seconds 3``) and one topic serve every test of this module; each test uses its
own host names. tests/browser/test_page_controls.py reuses the helpers below for the controls.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from tests.support import Process, start_dashboard, wait_for

pytestmark = pytest.mark.browser

METRICS = ("cpu.percent", "mem.used_percent")
PRODUCER_FLAGS = ("--metrics", "cpu,memory", "--per-core", "false")  # ~15 series a host: a light page

CHART_POINTS = """() => Object.values(Chart.instances).flatMap(c => c.data.datasets.map(d => ({
    label: d.label, xs: (d._data || d.data).map(p => p.x)})))"""
PLOTLY_POINTS = """() => (document.querySelector('#plotly-graph .js-plotly-plot').data || []).map(t => ({
    label: t.name, xs: Array.from(t.x)}))"""
DEBUG = "window.dash_clientside.metrics.debugState()"


class TopicLog:
    """Everything produced to the topic, read by the test itself: what the page must match."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.ts: dict[str, set[int]] = {}
        self.metrics: dict[str, set[str]] = {}
        # per series: a sample may leave a metric out (a CPU reading with no clock tick since the last)
        self.series: dict[tuple[str, str], set[int]] = {}
        self._stop = threading.Event()
        self._consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "test-log",
                                   "enable.auto.commit": False})
        md = self._consumer.list_topics(topic, timeout=10)
        self._consumer.assign([TopicPartition(topic, p, 0) for p in md.topics[topic].partitions])
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for m in self._consumer.consume(100, 0.1):
                if m.error() is None:
                    doc = orjson.loads(m.value())
                    self.ts.setdefault(doc["host"], set()).add(doc["ts"])
                    self.metrics.setdefault(doc["host"], set()).update(doc["metrics"])
                    for metric in doc["metrics"]:
                        self.series.setdefault((doc["host"], metric), set()).add(doc["ts"])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._consumer.close()


@dataclass
class Stack:
    url: str
    bootstrap: str
    topic: str
    log: TopicLog
    dash: Process
    tmp: Path
    producers: list[Process]

    def produce(self, host: str, interval: float = 0.5) -> Process:
        """The real producer, sampling this machine as ``host``."""
        proc = Process(["-m", "producer", "--bootstrap-servers", self.bootstrap, "--topic", self.topic,
                        "--host-id", host, "--interval", str(interval), *PRODUCER_FLAGS],
                       self.tmp / f"{host}-{len(self.producers)}.log")
        self.producers.append(proc)
        return proc

    def send(self, host: str, samples: list[tuple[int, dict[str, float]]]) -> None:
        """v1 messages with controlled sample times and values (docs/protocol.md)."""
        producer = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 5})
        for seq, (ts, metrics) in enumerate(samples):
            doc = {"v": 1, "host": host, "ts": ts, "seq": seq, "metrics": metrics}
            producer.produce(self.topic, key=host.encode(), value=orjson.dumps(doc))
        assert producer.flush(10) == 0, "messages not delivered"


def open_stack(kafka_broker, tmp: Path, *dash_args: str) -> Stack:
    topic = f"page-{uuid.uuid4().hex[:8]}"
    kafka_broker.create_topic(topic, partitions=3)
    dash, url = start_dashboard(tmp, kafka_broker.bootstrap_servers, topic, *dash_args)
    return Stack(url, kafka_broker.bootstrap_servers, topic, TopicLog(kafka_broker.bootstrap_servers, topic),
                 dash, tmp, [])


def close_stack(stack: Stack) -> None:
    for proc in stack.producers:
        proc.stop()
    stack.log.close()
    stack.dash.stop()


@pytest.fixture(scope="module")
def stack(kafka_broker, tmp_path_factory) -> Iterator[Stack]:
    s = open_stack(kafka_broker, tmp_path_factory.mktemp("page"), "--stale-seconds", "3")
    yield s
    close_stack(s)


def series_on_page(page, script: str = CHART_POINTS) -> dict[str, list[int]]:
    return {d["label"]: d["xs"] for d in page.evaluate(script)}


def wait_points(page, host: str, n: int, script: str = CHART_POINTS, timeout: float = 60,
                metrics: tuple[str, ...] = METRICS) -> dict[str, list[int]]:
    def ready():
        got = series_on_page(page, script)
        return got if all(len(got.get(f"{host} · {m}", [])) >= n for m in metrics) else None

    return wait_for(ready, timeout, f"{n} points per metric of {host} on the page")


def assert_drawn_once_from_kafka(got: dict[str, list[int]], host: str, log: TopicLog) -> None:
    for m in METRICS:
        xs = got[f"{host} · {m}"]
        assert len(xs) == len(set(xs)), f"duplicate points in {m}: {len(xs)} x values, {len(set(xs))} unique"
        assert xs == sorted(xs)
        produced = wait_for(lambda xs=xs: set(xs) <= log.ts.get(host, set()) and log.ts[host], 10, "topic log")
        assert set(xs) <= produced, "x values are the produced sample times"


def wait_exactly_produced(page, host: str, log: TopicLog, script: str = CHART_POINTS) -> dict[str, list[int]]:
    """After the producer stopped: the page holds every produced sample of ``host``, each once."""

    def want(m: str) -> list[int]:
        return sorted(log.series.get((host, m), ()))

    def same():
        got = series_on_page(page, script)
        return got if all(want(m) and got.get(f"{host} · {m}") == want(m) for m in METRICS) else None

    try:
        return wait_for(same, 30, f"the page to hold exactly the samples produced by {host}")
    except AssertionError:
        got = series_on_page(page, script)
        for m in METRICS:
            xs = got.get(f"{host} · {m}", [])
            missing = sorted(set(want(m)) - set(xs))
            print(m, "page", len(xs), "unique", len(set(xs)), "produced", len(want(m)),
                  "missing", missing[:5], "at", [want(m).index(t) for t in missing[:5]],
                  "extra", sorted(set(xs) - set(want(m)))[:5])
        raise


def drawn(page, host: str) -> dict[str, int]:
    """Points the renderer has actually drawn (Chart.js elements / Plotly trace points) per series."""
    return {d["label"]: d["drawn"] for d in page.evaluate(DEBUG)["drawn"] if d["label"].startswith(host + " · ")}


def click(page, name: str, group: str | None = None) -> None:
    scope = page.get_by_role("group", name=group, exact=True) if group else page
    scope.get_by_role("button", name=name, exact=True).click()


def href(page) -> str:
    """The page's URL now (Playwright's page.url can lag behind history.replaceState)."""
    return page.evaluate("location.href")


def now_ms() -> int:
    return int(time.time() * 1000)


def test_live_lines_per_metric_second_host_and_reload(page, stack):
    stack.produce("browser-1")
    page.goto(stack.url)
    got = wait_points(page, "browser-1", 3)
    labels = [d["label"] for d in page.evaluate(CHART_POINTS) if d["label"].startswith("browser-1 · ")]
    assert sorted(labels) == sorted(f"browser-1 · {m}" for m in stack.log.metrics["browser-1"]), "a dataset per metric"
    assert_drawn_once_from_kafka(got, "browser-1", stack.log)
    wait_for(lambda: page.inner_text("#conn-state") == "live", 20, "the live badge")
    wait_for(lambda: page.inner_text("#lag").endswith(" ms"), 10, "the end-to-end lag in the header")
    assert 0 <= int(page.inner_text("#lag").split()[1]) < 5000

    page.evaluate("window.__sameDocument = true")
    stack.produce("browser-2")
    got = wait_points(page, "browser-2", 3)
    assert page.evaluate("window.__sameDocument") is True, "the second host appeared without a reload"
    labels = [d["label"] for d in page.evaluate(CHART_POINTS) if d["label"].startswith("browser-")]
    assert len(labels) == len(set(labels)) == len(stack.log.metrics["browser-1"]) + len(stack.log.metrics["browser-2"])
    assert_drawn_once_from_kafka(got, "browser-2", stack.log)
    page.get_by_text("Hosts:").click()  # the picker lists the new host, as text
    wait_for(lambda: "browser-2" in page.locator("#host-list").inner_text(), 5, "browser-2 in the host picker")
    assert "host" in page.inner_text("#host-count")

    before = len(series_on_page(page)["browser-1 · cpu.percent"])
    page.reload()
    got = wait_points(page, "browser-1", before)  # history comes back at once from the relay's store
    assert_drawn_once_from_kafka(got, "browser-1", stack.log)
    assert page.errors == []


def test_plotly_fallback_draws_each_sample_exactly_once(page, stack):
    producer = stack.produce("plotly-1", interval=0.1)  # 10 samples/s: a payload in (almost) every frame
    page.goto(stack.url + "?renderer=plotly")
    wait_for(lambda: page.evaluate(DEBUG)["renderer"] == "plotly", 30, "the plotly renderer to be chosen")
    assert page.locator("#chartjs-root").is_hidden()
    # ~100 frames through extendData; the measured duplicate bug showed within 53 points
    wait_points(page, "plotly-1", 100, PLOTLY_POINTS)
    assert producer.stop() == 0
    wait_exactly_produced(page, "plotly-1", stack.log, PLOTLY_POINTS)
    assert page.errors == []


def test_renderer_switch_keeps_the_same_series_each_sample_once(page, stack):
    producer = stack.produce("same-1", interval=0.1)
    page.goto(stack.url)
    wait_points(page, "same-1", 50)
    click(page, "Plotly", "Renderer")  # live, without a reload: the fallback mounts and draws the model
    wait_for(lambda: "renderer=plotly" in href(page), 5, "the renderer in the URL")
    wait_points(page, "same-1", 60, PLOTLY_POINTS)
    assert page.locator("#chartjs-root").is_hidden()
    assert producer.stop() == 0
    plot = wait_exactly_produced(page, "same-1", stack.log, PLOTLY_POINTS)
    click(page, "Chart.js", "Renderer")
    chart = wait_exactly_produced(page, "same-1", stack.log)
    assert {k: v for k, v in plot.items() if k.startswith("same-1")} == {
        k: v for k, v in chart.items() if k.startswith("same-1")}, "both renderers hold the same series and points"
    assert "renderer" not in href(page)  # the default is left out of the URL
    assert page.errors == []


def test_pause_keeps_buffering_without_redrawing_and_resume_catches_up(page, stack):
    producer = stack.produce("pause-1", interval=0.2)
    page.goto(stack.url)
    wait_points(page, "pause-1", 5)
    click(page, "Pause")
    assert page.get_by_role("button", name="Resume").get_attribute("aria-pressed") == "true"
    frozen = drawn(page, "pause-1")
    draws = page.evaluate(DEBUG)["draws"]
    held = {s["metric"]: s["points"] for s in page.evaluate(DEBUG)["series"] if s["host"] == "pause-1"}

    def buffered():
        st = page.evaluate(DEBUG)
        return all(s["points"] >= held[s["metric"]] + 10 for s in st["series"] if s["host"] == "pause-1")

    wait_for(buffered, 30, "10 more points per series buffered while paused")
    assert page.evaluate(DEBUG)["draws"] == draws, "nothing was redrawn while paused"
    assert drawn(page, "pause-1") == frozen, "the charts still show what they showed at the pause"
    assert "new points buffered" in page.inner_text("#paused-note")

    click(page, "Resume")
    assert producer.stop() == 0
    wait_exactly_produced(page, "pause-1", stack.log)  # every sample, once: nothing lost while paused
    wait_for(lambda: all(n == len(stack.log.series[("pause-1", m)]) for m in METRICS
                         for label, n in drawn(page, "pause-1").items() if label == f"pause-1 · {m}"), 10,
             "the charts to draw every buffered point")
    assert page.inner_text("#paused-note") == ""
    assert page.errors == []


WINDOW_VIEW = """() => { const c = Object.values(Chart.instances).find(c =>
    c.data.datasets.some(d => d.label === 'win-1 · cpu.percent'));
    const d = c.data.datasets.find(d => d.label === 'win-1 · cpu.percent');
    return {span: c.scales.x.max - c.scales.x.min, min: c.scales.x.min, xs: (d._data || d.data).map(p => p.x)}; }"""


BANDS = """() => Object.values(Chart.instances).flatMap(c => c.data.datasets)
    .filter(d => d.band && d.label.startsWith('win-1 · ')).map(d => d.label)"""


def test_window_switch_changes_x_range_and_point_count(page, stack):
    now = now_ms()
    sent = [now - 840_000 + i * 5000 for i in range(169)]  # 14 min of history, a sample every 5 s
    stack.send("win-1", [(ts, {"cpu.percent": float(i % 50)}) for i, ts in enumerate(sent)])
    page.goto(stack.url)
    wait_for(lambda: len(page.evaluate(WINDOW_VIEW)["xs"]) == 169, 30, "the 15 min window of win-1")

    def shows_window(span: int, want_res: int = 0):
        v = page.evaluate(WINDOW_VIEW)
        res = next(s["res"] for s in page.evaluate(DEBUG)["series"] if s["host"] == "win-1")
        if (res or 0) != want_res:  # the axis moves on the click; the new window's snapshot follows
            return None
        # trimmed to the window (the page trims once a second, so allow 2 s of slack at the left edge);
        # windows longer than the relay's raw history come as buckets of `res` ms (mean, min, max)
        inside = {ts // (res or 1) for ts in sent if ts >= v["min"]}
        slack = {ts // (res or 1) for ts in sent if ts >= v["min"] - 2000 - res}
        v["res"] = res
        return v if v["span"] == span and v["xs"] and len(inside) <= len(v["xs"]) <= len(slack) else None

    wait_for(lambda: shows_window(900_000), 10, "the default 15 min window drawn")
    counts = {}
    for label, span, url_value, res in (("1 m", 60_000, "1m", 0), ("5 m", 300_000, "5m", 0),
                                        ("1 h", 3_600_000, "1h", 10_000), ("15 m", 900_000, None, 0)):
        click(page, label, "Time window")
        v = wait_for(lambda span=span, res=res: shows_window(span, res), 10, f"the x axis and points of {label}")
        assert ("window=" + url_value in href(page)) if url_value else ("window=" not in href(page))
        assert page.get_by_role("button", name=label, exact=True).get_attribute("aria-pressed") == "true"
        bands = wait_for(lambda: page.evaluate(BANDS), 5, "the chart's datasets") if v["res"] else page.evaluate(BANDS)
        if v["res"]:  # only the hour: it comes as 10 s buckets
            assert all(x % 10_000 == 0 for x in v["xs"]), "bucket starts"
            assert bands == ["win-1 · cpu.percent (max)", "win-1 · cpu.percent (min)"], "a min-max band under the mean"
        else:
            assert set(v["xs"]) <= set(sent), "raw windows draw the sample times"
            assert bands == [], "no band for raw samples"
        counts[label] = len(v["xs"])
    assert counts["1 m"] < counts["5 m"] < counts["15 m"] == 169
    assert counts["1 h"] >= 84, "the hour shows the whole history (raw, or 10 s buckets from the relay)"
    page.reload()  # deep link: the window comes from the URL (the default here)
    wait_for(lambda: shows_window(900_000), 20, "the default window after reload")
    page.goto(stack.url + "?window=5m")
    wait_for(lambda: shows_window(300_000), 20, "the window from the URL")
    assert page.errors == []


CHART_BAND = """label => { for (const c of Object.values(Chart.instances)) {
    const i = c.data.datasets.findIndex(d => d.label === label);
    if (i < 0) continue;
    const band = k => { const j = c.data.datasets.findIndex(d => d.label === label + k);
      if (j < 0) return null; const m = c.getDatasetMeta(j);
      return {x: (c.data.datasets[j]._data || c.data.datasets[j].data).map(p => p.x), drawn: m.data.length,
              last: m.data.length ? m.controller.getParsed(m.data.length - 1).y : null}; };
    return {x: (c.data.datasets[i]._data || c.data.datasets[i].data).map(p => p.x), hi: band(' (max)'),
            lo: band(' (min)')};
  } return null; }"""


def test_chartjs_band_follows_live_samples_in_a_long_window(page, stack):
    """1 h window (10 s buckets): the min–max band is drawn up to the newest live sample, as the
    running min–max of the bucket being filled, not only up to the last completed bucket."""
    from tests.browser.test_plotly_parity import LiveSender

    host = "band-live"
    label = f"{host} · cpu.percent"
    now = now_ms()
    stack.send(host, [(now - 870_000 + i * 5000, {"cpu.percent": float(20 + i % 50)}) for i in range(169)])
    page.goto(stack.url + "?window=1h")
    wait_for(lambda: (b := page.evaluate(CHART_BAND, label)) and b["hi"] and b["hi"]["drawn"] > 80, 30,
             "the series and its band")
    sender = LiveSender(stack.bootstrap, stack.topic, host)
    widths: dict[int, list[float]] = {}
    try:
        def band_follows():
            b = page.evaluate(CHART_BAND, label)
            hi, lo = b["hi"], b["lo"]
            assert hi["x"] == b["x"] and lo["x"] == b["x"], "the band has the line's points"
            last = b["x"][-1]
            sent = [(ts, v) for ts, v in sender.samples() if ts // 10_000 == last // 10_000 and ts <= last]
            if not sent or sent[-1][0] != last or hi["drawn"] != len(b["x"]):
                return None  # not a live sample yet, or not drawn yet
            vals = [v for _, v in sent]
            assert (hi["last"], lo["last"]) == (max(vals), min(vals)), (sent, hi, lo)
            widths.setdefault(last // 10_000, []).append(max(vals) - min(vals))
            return b if any(len(set(w)) > 1 and w[-1] > w[0] for w in widths.values()) else None

        wait_for(band_follows, 45, "the band's last bucket drawn widening as live samples arrive")
    finally:
        sender.close()
    assert page.errors == []


DASH_UNDO = "() => { const h = window.store && window.store.getState().history; return h ? h.past.length : -1; }"


def test_dash_undo_history_stays_bounded_while_frames_flow(page, stack):
    # Dash keeps every change of a callback Input (each ws.message: every frame, snapshots included) in
    # store.history.past, unbounded; the page empties it every 50 frames. Dash internals: if an upgrade
    # moves them, this test says so.
    stack.produce("undo-1", interval=0.1)
    page.goto(stack.url)
    wait_points(page, "undo-1", 3)
    assert page.evaluate(DASH_UNDO) >= 0, "Dash's store and its history are where the page expects them"
    frames = page.evaluate(DEBUG)["frames"]
    wait_for(lambda: page.evaluate(DEBUG)["frames"] >= frames + 150, 60, "150 more frames")
    assert 0 <= page.evaluate(DASH_UNDO) <= 51 * 2, "the undo history is pruned, not one entry per frame"
    assert page.errors == []
