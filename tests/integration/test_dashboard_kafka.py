"""The dashboard process against the real broker: producer → Kafka → relay → a plain WebSocket client."""

from __future__ import annotations

import time

import orjson
import pytest
from confluent_kafka import Producer
from websockets.sync.client import connect

from tests.support import Process, healthz, seed_partitions, start_dashboard, wait_for

pytestmark = pytest.mark.integration


def frames(ws, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            yield orjson.loads(ws.recv(timeout=max(0.05, deadline - time.monotonic())))
        except TimeoutError:
            return


def points_by_series(ws, seconds: float, want) -> dict[tuple[str, str], list[int]]:
    """Collect (host, metric) → ts from snapshot and data frames until ``want(points)`` or timeout."""
    got: dict[tuple[str, str], list[int]] = {}
    for frame in frames(ws, seconds):
        if frame["type"] not in ("snapshot", "data"):
            continue
        for s in frame["series"]:
            got.setdefault((s["host"], s["metric"]), []).extend(s["ts"])
        if want(got):
            break
    return got


def test_producer_to_websocket_client(kafka_broker, kafka_topic, tmp_path):
    dash, url = start_dashboard(tmp_path, kafka_broker.bootstrap_servers, kafka_topic)
    producer = Process(["-m", "producer", "--bootstrap-servers", kafka_broker.bootstrap_servers,
                        "--topic", kafka_topic, "--host-id", "it-host", "--interval", "0.2"],
                       tmp_path / "producer.log")
    try:
        with connect(url.replace("http", "ws") + "ws") as ws:
            ws.send('{"type":"ready"}')
            got = points_by_series(
                ws, 60,
                lambda g: all(len(g.get(("it-host", m), [])) >= 3 for m in ("cpu.percent", "mem.used_percent")),
            )
        for metric in ("cpu.percent", "mem.used_percent"):
            ts = got.get(("it-host", metric), [])
            assert len(ts) >= 3, f"{metric}: {got.keys()}\n{producer.log()}\n{dash.log()}"
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
        with connect(url.replace("http", "ws") + "ws") as ws:
            ws.send('{"type":"ready"}')
            wait_for(lambda: healthz(url)["kafka"]["state"] == "connected", 30, "dashboard to connect")
            for junk in (b"not json", b"[1,2,3]", b'{"v":99}', b'{"v":1,"host":"x","ts":"soon","metrics":{}}'):
                p.produce(kafka_topic, key=b"bad", value=junk)
            now = int(time.time() * 1000)
            good = {"v": 1, "host": "after-junk", "ts": now, "seq": 0, "metrics": {"cpu.percent": 42.0}}
            p.produce(kafka_topic, key=b"after-junk", value=orjson.dumps(good))
            assert p.flush(10) == 0
            got = points_by_series(ws, 30, lambda g: ("after-junk", "cpu.percent") in g)
            assert got.get(("after-junk", "cpu.percent")) == [now]
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
        with connect(url.replace("http", "ws") + "ws") as ws:
            wait_for(lambda: healthz(url)["points"] >= 30, 30, "backfill from Kafka")
            ws.send('{"type":"ready"}')
            snap = next((f for f in frames(ws, 30) if f["type"] == "snapshot"), None)
        assert snap is not None, "no snapshot within 30 s"
        series = {(s["host"], s["metric"]): s["ts"] for s in snap["series"]}
        assert series == {("hist", "cpu.percent"): sent}
    finally:
        dash.stop()
