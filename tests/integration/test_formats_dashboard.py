"""The dashboard reads all four formats from one topic, and several topics with forced formats."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Producer

from tests.integration.test_formats_kafka import ROUNDS, STEP_MS, _produce_interleaved
from tests.support import Client, healthz, start_dashboard, wait_for

pytestmark = pytest.mark.integration


def expected(base: int) -> dict[tuple[str, str], list[int]]:
    ts = [base + i * STEP_MS for i in range(ROUNDS)]
    return {
        ("it-v1", "cpu.percent"): ts,
        ("it-lp", "cpu.usage_idle{cpu=cpu-total}"): ts,
        ("it-lp", "cpu.usage_user{cpu=cpu-total}"): ts,
        ("it-lp", "net.speed{interface=eth0}"): ts,
        ("it-lp", "net.bytes_recv_per_s{interface=eth0}"): ts[1:],
        ("it-json", "mem.used_percent"): ts,
        ("it-seed", "CPU utilization (%)"): [t + 7 for t in ts],
        ("it-seed", "Memory used by processes (MB)"): [t + 9 for t in ts],
    }


def test_four_formats_interleaved_on_one_topic_reach_the_page(kafka_broker, kafka_topic, tmp_path):
    base = (int(time.time()) - 120) * 1000
    _produce_interleaved(kafka_broker.bootstrap_servers, kafka_topic, base)
    dash, url = start_dashboard(tmp_path, kafka_broker.bootstrap_servers, kafka_topic, "--seed-host", "it-seed")
    try:
        want = expected(base)
        c = Client(url, {"type": "ready"})
        c.pump(lambda c: c.points == want)
        # the points can all be on the page before the partition holding the junk record is read
        health = wait_for(lambda: (h := healthz(url))["messages_consumed"] == 5 * ROUNDS + 1 and h, 30,
                          "every record consumed")
        assert health["records_by_format"] == {"v1": ROUNDS, "influx": ROUNDS, "telegraf_json": ROUNDS,
                                               "seed": 2 * ROUNDS}
        assert health["bad_messages_by_reason"] == {"bad_line": 1}
        assert health["dropped_points_by_reason"] == {"non_numeric": ROUNDS}
        c.close()
    finally:
        dash.stop()


def test_several_topics_each_with_a_forced_format(kafka_broker, tmp_path):
    suffix = str(time.time_ns())[-8:]
    v1_topic, lp_topic = f"v1-{suffix}", f"lp-{suffix}"
    for t in (v1_topic, lp_topic):
        kafka_broker.create_topic(t, partitions=1)
    p = Producer({"bootstrap.servers": kafka_broker.bootstrap_servers})
    now = int(time.time() * 1000)
    p.produce(v1_topic, key=b"a", value=b'{"v":1,"host":"a","ts":%d,"metrics":{"cpu.percent":1.5}}' % now)
    # Forced to influx, this JSON-looking line is read as line protocol and refused, not guessed as JSON.
    p.produce(lp_topic, value=b'{"v":1,"host":"b","ts":1,"metrics":{}}')
    p.produce(lp_topic, value=b"system,host=b load1=0.5 %d" % (now * 1_000_000))
    assert p.flush(10) == 0
    dash, url = start_dashboard(tmp_path, kafka_broker.bootstrap_servers, f"{v1_topic},{lp_topic}:influx")
    try:
        c = Client(url, {"type": "ready"})
        c.pump(lambda c: c.points == {("a", "cpu.percent"): [now], ("b", "system.load1"): [now]})
        wait_for(lambda: healthz(url)["bad_messages"] == 1, 30, "the JSON record on the influx topic refused")
        assert healthz(url)["kafka"]["partitions"] == 2
        c.close()
    finally:
        dash.stop()
