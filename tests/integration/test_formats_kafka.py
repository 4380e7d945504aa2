"""All four formats interleaved on ONE real Kafka topic, decoded by dash_app.formats.Decoder.

The dashboard's consumer does not call the format decoders yet (the lead wires them in), so this
test reads the topic with a small confluent-kafka harness of its own: assign every partition from
the beginning, and hand each record's value, key and Kafka timestamp to ``Decoder.decode`` exactly
as the consumer will. What it proves: records as real producers write them (v1 keyed by host, Telegraf
line protocol and JSON keyed by the host tag, the seed's key = label / value = text with only a
Kafka timestamp) survive the broker and come out with the right hosts, names, values and times.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict

import orjson
import pytest
from confluent_kafka import OFFSET_BEGINNING, TIMESTAMP_NOT_AVAILABLE, Consumer, Producer, TopicPartition

from dash_app.formats import Decoder, FormatError, FormatOptions

pytestmark = pytest.mark.integration

ROUNDS = 3
STEP_MS = 10_000


def _produce_interleaved(bootstrap: str, topic: str, base: int) -> None:
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(ROUNDS):
        t = base + i * STEP_MS
        v1 = {"v": 1, "host": "it-v1", "ts": t, "seq": i, "metrics": {"cpu.percent": 10.0 + i}}
        p.produce(topic, key=b"it-v1", value=orjson.dumps(v1))
        lines = (f"cpu,cpu=cpu-total,host=it-lp usage_idle={90.5 - i},usage_user={2 + i}i {t * 1_000_000}\n"
                 f"net,host=it-lp,interface=eth0 bytes_recv={1_000_000 + i * 50_000}i,speed=1000i {t * 1_000_000}\n")
        p.produce(topic, key=b"it-lp", value=lines.encode())
        metric = {"fields": {"used_percent": 40.0 + i, "state": "ok"}, "name": "mem", "tags": {"host": "it-json"},
                  "timestamp": t // 1000}
        p.produce(topic, key=b"it-json", value=orjson.dumps(metric))
        p.produce(topic, key=b"CPU utilization (%)", value=str(12.5 + i).encode(), timestamp=t + 7)
        p.produce(topic, key=b"Memory used by processes (MB)", value=b"5.946372985839844", timestamp=t + 9)
        if i == 1:
            p.produce(topic, key=b"junk", value=b"this is no metric at all")
    assert p.flush(30) == 0


def test_four_formats_interleaved_on_one_topic_decoded_by_a_harness_consumer(kafka_broker, kafka_topic):
    base = (int(time.time()) - 120) * 1000  # whole seconds: Telegraf JSON's default unit
    _produce_interleaved(kafka_broker.bootstrap_servers, kafka_topic, base)
    decoder = Decoder(FormatOptions(seed_host="it-seed"))
    points: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
    bad: list[str] = []
    consumer = Consumer({"bootstrap.servers": kafka_broker.bootstrap_servers, "enable.auto.commit": False,
                         "group.id": f"it-formats-{uuid.uuid4().hex[:8]}"})
    expected_records = ROUNDS * 5 + 1
    seen = 0
    try:
        partitions = sorted(consumer.list_topics(kafka_topic, timeout=30).topics[kafka_topic].partitions)
        assert len(partitions) == 3
        consumer.assign([TopicPartition(kafka_topic, p, OFFSET_BEGINNING) for p in partitions])
        deadline = time.monotonic() + 60
        while seen < expected_records and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=100, timeout=0.5):
                assert msg.error() is None, msg.error()
                seen += 1
                kind, ts = msg.timestamp()
                try:
                    samples = decoder.decode(msg.value(), msg.key(), None if kind == TIMESTAMP_NOT_AVAILABLE else ts)
                except FormatError as exc:
                    bad.append(exc.reason)
                    continue
                for s in samples:
                    for name, value in s.metrics.items():
                        points[(s.host, name)].append((s.ts, value))
    finally:
        consumer.close()
    assert seen == expected_records, f"only {seen} of {expected_records} records came back"

    ts = [base + i * STEP_MS for i in range(ROUNDS)]
    assert dict(points) == {
        ("it-v1", "cpu.percent"): [(t, 10.0 + i) for i, t in enumerate(ts)],
        ("it-lp", "cpu.usage_idle{cpu=cpu-total}"): [(t, 90.5 - i) for i, t in enumerate(ts)],
        ("it-lp", "cpu.usage_user{cpu=cpu-total}"): [(t, 2.0 + i) for i, t in enumerate(ts)],
        ("it-lp", "net.speed{interface=eth0}"): [(t, 1000.0) for t in ts],
        # a counter: nothing for the first value, then bytes per second over the 10 s step
        ("it-lp", "net.bytes_recv_per_s{interface=eth0}"): [(t, 5000.0) for t in ts[1:]],
        ("it-json", "mem.used_percent"): [(t, 40.0 + i) for i, t in enumerate(ts)],
        # the seed names no host and no time: configured host, Kafka record timestamp
        ("it-seed", "CPU utilization (%)"): [(t + 7, 12.5 + i) for i, t in enumerate(ts)],
        ("it-seed", "Memory used by processes (MB)"): [(t + 9, 5.946372985839844) for t in ts],
    }
    assert bad == ["bad_line"]
    assert decoder.formats == {"v1": ROUNDS, "influx": ROUNDS, "telegraf_json": ROUNDS, "seed": 2 * ROUNDS}
    assert decoder.dropped == {"non_numeric": ROUNDS}  # the JSON "state" string field
