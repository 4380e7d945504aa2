"""Schema churn without reloads: new metrics, values that turn into strings, a field that changes type,
a host that goes silent (stale, not deleted)."""

from __future__ import annotations

import time

import orjson
import pytest
from confluent_kafka import Producer

from tests.support import Client, healthz, seed_partitions, start_dashboard, wait_for

pytestmark = pytest.mark.integration


def test_churn_is_absorbed_live(kafka_broker, kafka_topic, tmp_path):
    seeded = seed_partitions(kafka_broker.bootstrap_servers, kafka_topic)  # else a record may be skipped unread
    dash, url = start_dashboard(tmp_path, kafka_broker.bootstrap_servers, kafka_topic, "--stale-seconds", "2")
    p = Producer({"bootstrap.servers": kafka_broker.bootstrap_servers})
    try:
        wait_for(lambda: healthz(url)["kafka"]["state"] == "connected", 30, "connected")
        c = Client(url, {"type": "ready"})
        t0 = int(time.time() * 1000)

        def v1(host: str, i: int, metrics: dict) -> None:
            p.produce(kafka_topic, key=host.encode(),
                      value=orjson.dumps({"v": 1, "host": host, "ts": t0 + i, "seq": i, "metrics": metrics}))

        v1("churn", 1, {"a": 1.0})
        v1("churn", 2, {"a": "n/a", "b": 2.0})  # a turns into a string; b is new
        p.produce(kafka_topic, key=b"lp", value=b"disk,host=lp used=10i %d" % ((t0 + 1) * 1_000_000))
        p.produce(kafka_topic, key=b"lp", value=b"disk,host=lp used=10.5 %d" % ((t0 + 2) * 1_000_000))
        p.produce(kafka_topic, key=b"lp", value=b'disk,host=lp used="full" %d' % ((t0 + 3) * 1_000_000))
        assert p.flush(10) == 0
        want = {("churn", "a"): [t0 + 1], ("churn", "b"): [t0 + 2], ("lp", "disk.used"): [t0 + 1, t0 + 2]}
        c.pump(lambda c: c.points == want)
        health = wait_for(lambda: (h := healthz(url))["messages_consumed"] == seeded + 5 and h, 30, "all consumed")
        assert health["bad_messages"] == 0, "churn is not an error: the rest of each record is kept"
        assert health["skipped_metrics"] == 2  # "n/a" (v1) and "full" (Influx)
        assert health["dropped_points_by_reason"] == {"non_numeric": 2}

        # both hosts now go silent: marked stale with their age, and still in a new page's snapshot
        c.pump(lambda c: False if not c.status else set(c.status.get("stale", {})) == {"churn", "lp"})
        fresh = Client(url, {"type": "ready"})
        fresh.pump(lambda c: c.points == want)
        c.close()
        fresh.close()
    finally:
        dash.stop()
