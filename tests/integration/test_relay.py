"""Relay features against the real broker: resume without gap or duplicate, restart, subscriptions,
two independent instances, /metrics."""

from __future__ import annotations

import time
import urllib.parse
import urllib.request
from typing import Any

import orjson
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from tests.support import Client, Process, healthz, start_dashboard, wait_for, ws_of

pytestmark = pytest.mark.integration


def topic_size(bootstrap: str, topic: str) -> int:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "size"})
    try:
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts)
    finally:
        c.close()


def records_with(bootstrap: str, topic: str, metric: str) -> int:
    """Records on the topic that carry `metric` (the agent leaves cpu.percent out of a sample when
    /proc/stat moved no tick since the last one)."""
    count = 0
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "records-with"})
    try:
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        total = sum(c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts)
        c.assign([TopicPartition(topic, p, 0) for p in parts])
        seen, deadline = 0, time.monotonic() + 30
        while seen < total and time.monotonic() < deadline:
            for m in c.consume(500, 1.0):
                if m.error() is None:
                    seen += 1
                    count += metric in orjson.loads(m.value() or b"{}").get("metrics", {})
        assert seen == total, f"read {seen} of {total} records"
        return count
    finally:
        c.close()


def produce(bootstrap: str, topic: str, host: str, n: int, start_ms: int, metrics=("cpu.percent",)) -> list[int]:
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    sent = []
    for i in range(n):
        ts = start_ms + i * 100
        p.produce(topic, key=host.encode(), value=orjson.dumps(
            {"v": 1, "host": host, "ts": ts, "seq": i, "metrics": {m: float(i) for m in metrics}}))
        sent.append(ts)
    assert p.flush(10) == 0
    return sent


def test_resume_after_the_socket_dies_gets_exactly_the_missing_points(kafka_broker, kafka_topic, tmp_path):
    dash, url = start_dashboard(tmp_path, kafka_broker.bootstrap_servers, kafka_topic)
    producer = Process(["-m", "producer", "--bootstrap-servers", kafka_broker.bootstrap_servers, "--topic",
                        kafka_topic, "--host-id", "resume-host", "--interval", "0.1", "--metrics", "cpu"],
                       tmp_path / "producer.log")
    try:
        c = Client(url, {"type": "ready"})
        key = ("resume-host", "cpu.percent")
        c.pump(lambda c: len(c.points.get(key, [])) >= 5)
        epoch, last, before = c.epoch, c.last, list(c.points[key])
        c.ws.close()  # the socket dies mid-stream; samples keep flowing meanwhile
        n = healthz(url)["messages_consumed"]
        wait_for(lambda: healthz(url)["messages_consumed"] >= n + 10, 30, "more samples while disconnected")
        c2 = Client(url, {"type": "resume", "epoch": epoch, "seq": last})
        c2.epoch, c2.last, c2.points = epoch, last, {key: list(before)}
        c2.pump(lambda c: c.kinds[0] == "catchup" and len(c.points[key]) >= len(before) + 15)
        assert c2.kinds[0] == "catchup"
        assert producer.stop() == 0
        consumed = topic_size(kafka_broker.bootstrap_servers, kafka_topic)
        wait_for(lambda: healthz(url)["messages_consumed"] == consumed, 10, "the last samples consumed")
        expected = records_with(kafka_broker.bootstrap_servers, kafka_topic, "cpu.percent")
        fresh = Client(url, {"type": "ready"})  # the server's whole truth, for comparison
        # consumed counts a sample before the hub's next tick stores it: the last one may come as data
        fresh.pump(lambda c: len(c.points.get(key, [])) >= expected)
        truth = fresh.points[key]
        c2.pump(lambda c: len(c.points[key]) >= len(truth), timeout=15)
        got = c2.points[key]
        assert got == sorted(set(got)), "no duplicate"
        assert got == truth, "no gap: every stored sample reached the resumed client exactly once"
        assert len(got) == expected
        c2.close()
        fresh.close()
    finally:
        producer.stop()
        dash.stop()


def test_after_a_dashboard_restart_resume_falls_back_to_a_full_snapshot(kafka_broker, kafka_topic, tmp_path):
    sent = produce(kafka_broker.bootstrap_servers, kafka_topic, "r1", 50, int(time.time() * 1000) - 60_000)
    dash, url = start_dashboard(tmp_path, kafka_broker.bootstrap_servers, kafka_topic, name="dash1")
    c = Client(url, {"type": "ready"})
    c.pump(lambda c: c.points.get(("r1", "cpu.percent")) == sent)
    epoch, last = c.epoch, c.last
    c.close()
    dash.stop()
    dash2, url2 = start_dashboard(tmp_path, kafka_broker.bootstrap_servers, kafka_topic, name="dash2")
    try:
        wait_for(lambda: healthz(url2)["points"] >= 50, 30, "history refilled from Kafka")
        c2 = Client(url2, {"type": "resume", "epoch": epoch, "seq": last})
        c2.pump(lambda c: c.kinds and c.kinds[0] == "snapshot")
        assert c2.epoch != epoch
        assert c2.points[("r1", "cpu.percent")] == sent
        c2.close()
    finally:
        dash2.stop()


def test_subscription_sends_only_what_was_asked(kafka_broker, kafka_topic, tmp_path):
    dash, url = start_dashboard(tmp_path, kafka_broker.bootstrap_servers, kafka_topic)
    try:
        wait_for(lambda: healthz(url)["kafka"]["state"] == "connected", 30, "connected")
        c = Client(url, {"type": "subscribe", "topics": ["host:web-*", "metric:cpu.*"]})
        everything = Client(url, {"type": "ready"})
        now = int(time.time() * 1000)
        for host in ("web-1", "web-2", "db-1"):
            produce(kafka_broker.bootstrap_servers, kafka_topic, host, 5, now, metrics=("cpu.percent", "mem.x"))
        everything.pump(lambda c: len(c.points) == 6)
        c.pump(lambda c: sum(len(v) for v in c.points.values()) == 10)
        assert set(c.points) == {("web-1", "cpu.percent"), ("web-2", "cpu.percent")}
        c.close()
        everything.close()
    finally:
        dash.stop()


def test_two_instances_read_the_same_topic_independently(kafka_broker, kafka_topic, tmp_path):
    """No consumer group: each instance assigns every partition, so N instances need no coordination."""
    sent = {h: produce(kafka_broker.bootstrap_servers, kafka_topic, h, 20, int(time.time() * 1000) - 30_000)
            for h in ("a", "b", "c")}
    one, url1 = start_dashboard(tmp_path, kafka_broker.bootstrap_servers, kafka_topic, name="one")
    two, url2 = start_dashboard(tmp_path, kafka_broker.bootstrap_servers, kafka_topic, name="two")
    try:
        want = {(h, "cpu.percent"): ts for h, ts in sent.items()}
        clients = [Client(url1, {"type": "ready"}), Client(url2, {"type": "ready"})]
        for c in clients:
            c.pump(lambda c: c.points == want)
        live = produce(kafka_broker.bootstrap_servers, kafka_topic, "a", 5, int(time.time() * 1000))
        for c in clients:
            c.pump(lambda c: c.points[("a", "cpu.percent")][-5:] == live)
            c.close()
        assert healthz(url1)["kafka"]["partitions"] == healthz(url2)["kafka"]["partitions"] == 3
    finally:
        one.stop()
        two.stop()


def test_metrics_endpoint_reports_consumption_lag_and_latency(kafka_broker, kafka_topic, tmp_path):
    produce(kafka_broker.bootstrap_servers, kafka_topic, "m1", 30, int(time.time() * 1000) - 5_000)
    junk = Producer({"bootstrap.servers": kafka_broker.bootstrap_servers})
    junk.produce(kafka_topic, value=b"{nope")
    assert junk.flush(10) == 0
    dash, url = start_dashboard(tmp_path, kafka_broker.bootstrap_servers, kafka_topic)
    try:
        wait_for(lambda: healthz(url)["messages_consumed"] == 31, 30, "all messages consumed")

        def scrape() -> str:
            with urllib.request.urlopen(url + "metrics", timeout=5) as r:
                return r.read().decode()

        lags = [f'metrics_relay_consumer_lag{{partition="{p}",topic="{kafka_topic}"}} 0.0' for p in range(3)]
        want = [*lags, "metrics_relay_sample_latency_seconds_count 30.0"]  # observed at the hub's next tick
        text = wait_for(lambda: (t := scrape()) and all(x in t for x in want) and t, 20, "lag and latency")
        assert "metrics_relay_messages_consumed_total 31.0" in text
        assert 'metrics_relay_bad_messages_total{reason="not_json"} 1.0' in text
        assert 'metrics_relay_records_by_format_total{format="v1"} 30.0' in text
        assert "metrics_relay_kafka_connected 1.0" in text
        assert "metrics_relay_backfill_progress 1.0" in text
        assert "metrics_relay_sample_latency_seconds_count 30.0" in text
        assert "metrics_relay_store_series 1.0" in text
    finally:
        dash.stop()


def test_res_over_sends_buckets_only_when_the_raw_snapshot_would_be_big(kafka_broker, kafka_topic, tmp_path):
    """The page's quick first paint: ``res`` with ``res_over`` — buckets above that many raw points."""
    from websockets.sync.client import connect

    dash, url = start_dashboard(tmp_path, kafka_broker.bootstrap_servers, kafka_topic)
    try:
        wait_for(lambda: healthz(url)["kafka"]["state"] == "connected", 30, "connected")
        start = (int(time.time() * 1000) - 300_000) // 10_000 * 10_000
        p = Producer({"bootstrap.servers": kafka_broker.bootstrap_servers, "linger.ms": 5})
        for host in ("a-1", "a-2"):
            for i in range(200):  # 200 s at 1 Hz, 2 metrics: 800 raw points in all
                p.produce(kafka_topic, key=host.encode(), value=orjson.dumps(
                    {"v": 1, "host": host, "ts": start + i * 1000, "metrics": {"m.x": float(i), "m.y": 1.0}}))
        assert p.flush(10) == 0
        wait_for(lambda: healthz(url)["points"] == 800, 30, "800 points in the store")

        def snapshot(hello: dict[str, Any]) -> list[dict[str, Any]]:
            with connect(ws_of(url), max_size=None) as ws:
                ws.send(orjson.dumps({"type": "ready", **hello}).decode())
                frame = orjson.loads(ws.recv(timeout=10))
                assert frame["type"] == "snapshot"
                return frame["series"]

        coarse = snapshot({"res": 10, "res_over": 799})
        assert len(coarse) == 4 and all(s["res"] == 10_000 for s in coarse)
        x = next(s for s in coarse if (s["host"], s["metric"]) == ("a-1", "m.x"))
        assert x["ts"] == [start + k * 10_000 for k in range(20)]  # 20 buckets of 10 s
        assert (x["min"][0], x["max"][0], x["y"][0]) == (0.0, 9.0, 4.5)
        raw = snapshot({"res": 10, "res_over": 800})  # not more than 800 raw points: raw at once
        assert all("res" not in s and len(s["ts"]) == 200 for s in raw)
        # the same first snapshot over HTTP, as a fresh page fetches it while Dash loads
        for hello, over_ws in (({"res": 10, "res_over": 799}, coarse), ({"res": 10, "res_over": 800}, raw)):
            query = urllib.parse.quote(orjson.dumps(hello).decode())
            with urllib.request.urlopen(f"{url}snapshot?sub={query}", timeout=10) as r:
                frame = orjson.loads(r.read())
            assert frame["type"] == "snapshot"
            by_key = {(s["host"], s["metric"]): s for s in over_ws}
            assert {(s["host"], s["metric"]): s for s in frame["series"]} == by_key
    finally:
        dash.stop()
