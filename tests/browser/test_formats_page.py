"""All four producer formats interleaved on one topic show up in the real page with their values and times."""

from __future__ import annotations

import time

import pytest

from tests.integration.test_formats_dashboard import expected
from tests.integration.test_formats_kafka import _produce_interleaved
from tests.support import start_dashboard, wait_for

pytestmark = pytest.mark.browser

DATASETS = """() => Object.values(Chart.instances).flatMap(c => c.data.datasets.map(d => ({
    label: d.label, xs: d.data.map(p => p.x), ys: d.data.map(p => p.y)})))"""


def test_four_formats_in_the_browser(page, kafka_broker, kafka_topic, tmp_path):
    base = (int(time.time()) - 120) * 1000
    _produce_interleaved(kafka_broker.bootstrap_servers, kafka_topic, base)
    dash, url = start_dashboard(tmp_path, kafka_broker.bootstrap_servers, kafka_topic, "--seed-host", "it-seed")
    try:
        page.goto(url)
        want = {f"{h} · {m}": ts for (h, m), ts in expected(base).items()}

        def drawn():
            got = {d["label"]: d for d in page.evaluate(DATASETS)}
            return got if {k: got[k]["xs"] for k in want if k in got} == want else None

        got = wait_for(drawn, 60, "every series of every format drawn with its sample times")
        assert got["it-v1 · cpu.percent"]["ys"] == [10.0, 11.0, 12.0]
        assert got["it-lp · cpu.usage_idle{cpu=cpu-total}"]["ys"] == [90.5, 89.5, 88.5]
        assert got["it-lp · net.bytes_recv_per_s{interface=eth0}"]["ys"] == [5000.0, 5000.0]
        assert got["it-json · mem.used_percent"]["ys"] == [40.0, 41.0, 42.0]
        assert got["it-seed · CPU utilization (%)"]["ys"] == [12.5, 13.5, 14.5]
        assert page.errors == []
    finally:
        dash.stop()
