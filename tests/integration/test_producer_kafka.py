"""The producer process against the real broker: what lands on the topic is v1, keyed by host, in order,
and SIGTERM delivers what is still batched before the process exits."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
HOST = "test-host"


def _producer_cmd(bootstrap: str, topic: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "producer", "--bootstrap-servers", bootstrap, "--topic", topic, *args]


def _env() -> dict[str, str]:
    # Only this test's flags decide where the producer writes.
    return {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "PRODUCER_"))}


@contextmanager
def _consumer(bootstrap: str, topic: str) -> Iterator[Consumer]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-producer-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=30)
        partitions = sorted(metadata.topics[topic].partitions)
        assert partitions, f"topic {topic} has no partitions"
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        yield consumer
    finally:
        consumer.close()


def _consume_until(consumer: Consumer, done: Callable[[list[Message]], bool], timeout: float = 60.0) -> list[Message]:
    """Messages for HOST, polled until `done(messages)` or the deadline."""
    got: list[Message] = []
    deadline = time.monotonic() + timeout
    while not done(got) and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        assert msg.error() is None, msg.error()
        if msg.key() == HOST.encode():
            got.append(msg)
    return got


def _value(msg: Message) -> dict[str, Any]:
    raw = msg.value()
    assert raw is not None
    value = orjson.loads(raw)
    assert isinstance(value, dict)
    return value


def test_once_delivers_one_v1_message(kafka_broker: Any, kafka_topic: str) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    before_ms = time.time() * 1000
    proc = subprocess.run(
        _producer_cmd(bootstrap, kafka_topic, "--once", "--host-id", HOST),
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""

    with _consumer(bootstrap, kafka_topic) as consumer:
        (msg,) = _consume_until(consumer, lambda got: len(got) >= 1)
    value = _value(msg)
    assert value["v"] == 1
    assert value["host"] == HOST
    assert value["seq"] == 0
    assert before_ms <= value["ts"] <= time.time() * 1000
    metrics = value["metrics"]
    assert 0.0 <= metrics["cpu.percent"] <= 100.0
    assert 0.0 < metrics["mem.used_percent"] < 100.0


def test_continuous_run_is_in_order_and_stops_on_sigterm(kafka_broker: Any, kafka_topic: str) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    proc = subprocess.Popen(
        _producer_cmd(bootstrap, kafka_topic, "--interval", "0.2", "--host-id", HOST),
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with _consumer(bootstrap, kafka_topic) as consumer:
            got = _consume_until(consumer, lambda got: len(got) >= 3)
        assert len(got) >= 3, "fewer than 3 samples arrived within 60 s"
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 0, stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    assert len({msg.partition() for msg in got}) == 1  # one key, one partition
    values = [_value(msg) for msg in got]
    seqs = [v["seq"] for v in values]
    assert seqs == list(range(len(seqs)))  # from 0, consecutive: nothing lost, duplicated or reordered
    ts = [v["ts"] for v in values]
    assert all(a < b for a, b in itertools.pairwise(ts))
    for v in values:
        assert v["v"] == 1 and v["host"] == HOST
        assert {"cpu.percent", "mem.used_percent"} <= set(v["metrics"])



def test_sigterm_flushes_what_is_still_batched(kafka_broker: Any, kafka_topic: str, tmp_path: Path) -> None:
    """A 60 s linger keeps every sample in librdkafka's batch; SIGTERM must deliver them all and exit 0.
    (It was 5 s: a starved producer can take longer than that for its first 8 samples, and then the
    batch left on its own before SIGTERM.)"""
    from tests.integration.test_producer_outage import Agent

    agent = Agent(kafka_broker.bootstrap_servers, kafka_topic, tmp_path, "--interval", "0.1",
                  host=HOST, env={"KAFKA_LINGER_MS": "60000"})  # fmt: skip
    try:
        before = agent.watch(lambda s: s["sampled"] >= 8, 60, "a few samples")
        assert before["delivered"] == 0, before  # all of them are still batched
        code, final = agent.stop()
    finally:
        agent.close()
    assert code == 0, agent.log()[-3000:]
    assert final["delivered"] == final["sampled"] >= 8 and final["dropped"] == 0, final
    with _consumer(kafka_broker.bootstrap_servers, kafka_topic) as consumer:
        got = _consume_until(consumer, lambda got: len(got) >= final["sampled"], timeout=30)
    assert [_value(m)["seq"] for m in got] == list(range(final["sampled"]))
