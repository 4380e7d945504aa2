"""The dashboard process against the real broker: producer → Kafka → relay → a plain WebSocket client."""

from __future__ import annotations

import time

import orjson
import pytest
from confluent_kafka import Producer

from tests.support import Client, Process, healthz, seed_partitions, start_dashboard, wait_for

pytestmark = pytest.mark.integration


def test_producer_to_websocket_client(kafka_broker, kafka_topic, tmp_path):
    dash, url = start_dashboard(tmp_path, kafka_broker.bootstrap_servers, kafka_topic)
    producer = Process(["-m", "producer", "--bootstrap-servers", kafka_broker.bootstrap_servers,
                        "--topic", kafka_topic, "--host-id", "it-host", "--interval", "0.2"],
                       tmp_path / "producer.log")
    try:
        metrics = ("cpu.percent", "mem.used_percent")
        c = Client(url, {"type": "ready"})
        try:
            c.pump(lambda c: all(len(c.points.get(("it-host", m), [])) >= 3 for m in metrics), timeout=60)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{producer.log()}\n{dash.log()}") from None
        c.close()
        got = c.points
        for metric in metrics:
            ts = got[("it-host", metric)]
            assert ts == sorted(set(ts)), "each sample once, in time order"
        assert {h for h, _ in got} == {"it-host"}
        assert healthz(url)["kafka"]["state"] == "connected"
    finally:
        assert producer.stop() == 0, producer.log()
        dash.stop()


def test_malformed_messages_are_counted_and_the_stream_goes_on(kafka_broker, kafka_topic, tmp_path):
    seeded = seed_partitions(kafka_broker.bootstrap_servers, kafka_topic)  # else the junk may be skipped unread
    dash, url = start_dashboard(tmp_path, kafka_broker.bootstrap_servers, kafka_topic)
    p = Producer({"bootstrap.servers": kafka_broker.bootstrap_servers})
    try:
        c = Client(url, {"type": "ready"})
        wait_for(lambda: healthz(url)["kafka"]["state"] == "connected", 30, "dashboard to connect")
        for junk in (b"not json", b"[1,2,3]", b'{"v":99}', b'{"v":1,"host":"x","ts":"soon","metrics":{}}'):
            p.produce(kafka_topic, key=b"bad", value=junk)
        now = int(time.time() * 1000)
        good = {"v": 1, "host": "after-junk", "ts": now, "seq": 0, "metrics": {"cpu.percent": 42.0}}
        p.produce(kafka_topic, key=b"after-junk", value=orjson.dumps(good))
        assert p.flush(10) == 0
        c.pump(lambda c: ("after-junk", "cpu.percent") in c.points)
        assert c.points[("after-junk", "cpu.percent")] == [now]
        c.close()
        # messages_consumed grows last, once a whole batch is decoded: then every bad one is counted
        health = wait_for(lambda: (h := healthz(url))["messages_consumed"] >= seeded + 5 and h, 30, "all consumed")
        assert health["bad_messages"] == 4
        assert health["bad_messages_by_reason"] == {"bad_line": 1, "not_object": 1, "unsupported_version": 1,
                                                    "bad_ts": 1}
        assert health["messages_consumed"] == seeded + 5
        assert "skipping bad message" in dash.log()
    finally:
        dash.stop()


def test_history_survives_a_dashboard_restart(kafka_broker, kafka_topic, tmp_path):
    """The store is refilled from Kafka (offsets_for_times), so a restart loses nothing visible."""
    p = Producer({"bootstrap.servers": kafka_broker.bootstrap_servers})
    now = int(time.time() * 1000)
    sent = [now - 60_000 + i * 1000 for i in range(30)]
    for i, ts in enumerate(sent):
        p.produce(kafka_topic, key=b"hist", value=orjson.dumps(
            {"v": 1, "host": "hist", "ts": ts, "seq": i, "metrics": {"cpu.percent": float(i)}}))
    old = {"v": 1, "host": "ancient", "ts": now - 3_600_000, "seq": 0, "metrics": {"cpu.percent": 1.0}}
    p.produce(kafka_topic, key=b"ancient", value=orjson.dumps(old), timestamp=now - 3_600_000)
    assert p.flush(10) == 0
    dash, url = start_dashboard(tmp_path, kafka_broker.bootstrap_servers, kafka_topic, "--history-seconds", "600")
    try:
        wait_for(lambda: healthz(url)["points"] >= 30, 30, "backfill from Kafka")
        c = Client(url, {"type": "ready"})
        c.pump(lambda c: c.kinds == ["snapshot"])  # its points: the snapshot's, nothing else
        c.close()
        assert c.points == {("hist", "cpu.percent"): sent}
    finally:
        dash.stop()
