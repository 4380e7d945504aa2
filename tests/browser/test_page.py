"""The page in real headless Chromium, fed by the real producer through the real broker."""

from __future__ import annotations

import threading

import orjson
import pytest
from confluent_kafka import Consumer, TopicPartition

from tests.support import Process, start_dashboard, wait_for

pytestmark = pytest.mark.browser

METRICS = ("cpu.percent", "mem.used_percent")

CHART_POINTS = """() => Object.values(Chart.instances).flatMap(c => c.data.datasets.map(d => ({
    label: d.label, xs: d.data.map(p => p.x)})))"""
PLOTLY_POINTS = """() => (document.querySelector('#plotly-graph .js-plotly-plot').data || []).map(t => ({
    label: t.name, xs: Array.from(t.x)}))"""


class TopicLog:
    """Everything produced to the topic, read by the test itself: what the page must match."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.ts: dict[str, set[int]] = {}
        self.metrics: dict[str, set[str]] = {}
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

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._consumer.close()


@pytest.fixture
def stack(kafka_broker, kafka_topic, tmp_path):
    dash, url = start_dashboard(tmp_path, kafka_broker.bootstrap_servers, kafka_topic)
    log = TopicLog(kafka_broker.bootstrap_servers, kafka_topic)
    producers: list[Process] = []

    def produce(host: str, interval: float = 0.5) -> Process:
        proc = Process(["-m", "producer", "--bootstrap-servers", kafka_broker.bootstrap_servers, "--topic",
                        kafka_topic, "--host-id", host, "--interval", str(interval)], tmp_path / f"{host}.log")
        producers.append(proc)
        return proc

    yield url, produce, log
    for proc in producers:
        proc.stop()
    log.close()
    dash.stop()


def series_on_page(page, script=CHART_POINTS) -> dict[str, list[int]]:
    return {d["label"]: d["xs"] for d in page.evaluate(script)}


def wait_points(page, host: str, n: int, script=CHART_POINTS, timeout=60) -> dict[str, list[int]]:
    def ready():
        got = series_on_page(page, script)
        return got if all(len(got.get(f"{host} · {m}", [])) >= n for m in METRICS) else None

    return wait_for(ready, timeout, f"{n} points per metric of {host} on the page")


def assert_drawn_once_from_kafka(got: dict[str, list[int]], host: str, log: TopicLog) -> None:
    for m in METRICS:
        xs = got[f"{host} · {m}"]
        assert len(xs) == len(set(xs)), f"duplicate points in {m}: {len(xs)} x values, {len(set(xs))} unique"
        assert xs == sorted(xs)
        produced = wait_for(lambda xs=xs: set(xs) <= log.ts.get(host, set()) and log.ts[host], 10, "topic log")
        assert set(xs) <= produced, "x values are the produced sample times"


def test_live_lines_per_metric_second_host_and_reload(page, stack):
    url, produce, log = stack
    produce("browser-1")
    page.goto(url)
    got = wait_points(page, "browser-1", 3)
    labels = [d["label"] for d in page.evaluate(CHART_POINTS)]
    assert sorted(labels) == sorted(f"browser-1 · {m}" for m in log.metrics["browser-1"]), "a dataset per metric"
    assert_drawn_once_from_kafka(got, "browser-1", log)
    wait_for(lambda: page.inner_text("#conn-state") == "live", 20, "the live badge")

    page.evaluate("window.__sameDocument = true")
    produce("browser-2")
    got = wait_points(page, "browser-2", 3)
    assert page.evaluate("window.__sameDocument") is True, "the second host appeared without a reload"
    labels = [d["label"] for d in page.evaluate(CHART_POINTS)]
    assert len(labels) == len(set(labels)) == len(log.metrics["browser-1"]) + len(log.metrics["browser-2"])
    assert_drawn_once_from_kafka(got, "browser-2", log)

    before = len(series_on_page(page)["browser-1 · cpu.percent"])
    page.reload()
    got = wait_points(page, "browser-1", before)  # history comes back at once from the relay's store
    assert_drawn_once_from_kafka(got, "browser-1", log)
    assert page.errors == []


def wait_exactly_produced(page, host: str, log: TopicLog, script=CHART_POINTS) -> dict[str, list[int]]:
    """After the producer stopped: the page holds every produced sample of ``host``, each once."""

    def same():
        got = series_on_page(page, script)
        want = sorted(log.ts.get(host, ()))
        return got if want and all(got.get(f"{host} · {m}") == want for m in METRICS) else None

    try:
        return wait_for(same, 30, f"the page to hold exactly the samples produced by {host}")
    except AssertionError:
        got = series_on_page(page, script)
        want = sorted(log.ts.get(host, ()))
        for m in METRICS:
            xs = got.get(f"{host} · {m}", [])
            print(m, "page", len(xs), "unique", len(set(xs)), "produced", len(want),
                  "missing", sorted(set(want) - set(xs))[:5], "extra", sorted(set(xs) - set(want))[:5])
        raise


def test_plotly_fallback_draws_each_sample_exactly_once(page, stack):
    url, produce, log = stack
    producer = produce("plotly-1", interval=0.1)  # 10 samples/s: a payload in (almost) every frame
    page.goto(url + "?renderer=plotly")
    wait_for(lambda: page.evaluate("window.dash_clientside.metrics.debugState().renderer") == "plotly", 30,
             "the plotly renderer to be chosen")
    assert page.locator("#chartjs-root").is_hidden()
    # ~100 frames through extendData; the measured duplicate bug showed within 53 points
    wait_points(page, "plotly-1", 100, PLOTLY_POINTS)
    assert producer.stop() == 0
    wait_exactly_produced(page, "plotly-1", log, PLOTLY_POINTS)
    assert page.errors == []


def test_chartjs_draws_each_sample_exactly_once_and_plotly_shows_the_same(page, stack):
    url, produce, log = stack
    producer = produce("same-1", interval=0.1)
    page.goto(url)
    wait_points(page, "same-1", 50)
    assert producer.stop() == 0
    chart = wait_exactly_produced(page, "same-1", log)
    page.goto(url + "?renderer=plotly")
    plot = wait_exactly_produced(page, "same-1", log, PLOTLY_POINTS)
    assert plot == chart
    assert page.errors == []
