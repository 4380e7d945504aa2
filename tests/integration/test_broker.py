"""The local broker for real: clients work against it, topics are idempotent, restarts keep data."""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from broker import launcher, stack
from broker.launcher import RUN_DIR, BrokerError, ExternalKafka, KafkaBroker, external_bootstrap

pytestmark = pytest.mark.integration
own_brokers = pytest.mark.skipif(
    external_bootstrap() is not None, reason="KAFKA_BOOTSTRAP_SERVERS is set: no local brokers"
)
T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float, what: str) -> T:
    """Call `condition` until it returns something truthy; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.01)  # poll interval only; the deadline is what bounds the wait


def produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> list[Message]:
    """Produce and flush; return the delivery reports (all must succeed)."""
    reports: list[Message] = []
    errors: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            errors.append(err)
        reports.append(msg)

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "acks": "all"})
    for key, value in records:
        producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
    assert producer.flush(30) == 0
    assert errors == []
    assert len(reports) == len(records)
    return reports


def topic_partitions(bootstrap: str, topic: str) -> int:
    meta = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic=topic, timeout=10)
    assert meta.topics[topic].error is None
    return len(meta.topics[topic].partitions)


def test_produce_and_consume_back_through_a_consumer_group(
    kafka_broker: KafkaBroker | ExternalKafka, kafka_topic: str
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    (report,) = produce(bootstrap, kafka_topic, [(b"host-1", b'{"cpu": 12.5}')])
    assert report.topic() == kafka_topic and report.offset() == 0

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"g-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 50,
        }
    )
    try:
        consumer.subscribe([kafka_topic])

        def next_message() -> Message | None:
            msg = consumer.poll(0.5)
            assert msg is None or msg.error() is None, msg.error()
            return msg

        msg = wait_for(next_message, 60, "the produced message")
        assert (msg.key(), msg.value()) == (b"host-1", b'{"cpu": 12.5}')
        assert msg.partition() == report.partition()
        # Committing needs __consumer_offsets, i.e. the single-node replication settings.
        consumer.commit(message=msg, asynchronous=False)
        (committed,) = consumer.committed([TopicPartition(kafka_topic, msg.partition())], timeout=10)
        assert committed.offset == msg.offset() + 1
    finally:
        consumer.close()


def test_create_topic_is_idempotent(kafka_broker: KafkaBroker | ExternalKafka) -> None:
    name = f"t-{uuid.uuid4().hex[:8]}"
    kafka_broker.create_topic(name, partitions=3)
    kafka_broker.create_topic(name, partitions=3)
    kafka_broker.create_topic(name, partitions=5)  # exists: left as it is, no error
    assert topic_partitions(kafka_broker.bootstrap_servers, name) == 3


@own_brokers
def test_a_restart_on_the_same_data_dir_keeps_topics_and_messages(tmp_path: Path) -> None:
    data_dir = tmp_path / "kafka"
    records = [(f"k{i}".encode(), f"v{i}".encode()) for i in range(20)]
    with KafkaBroker(data_dir=data_dir) as first:
        first.create_topic("history", partitions=3)
        produce(first.bootstrap_servers, "history", records)
        first_port = first.port
    assert first.poll() is None and first.pid is None  # stopped
    meta = (data_dir / "data" / "meta.properties").read_text()
    assert data_dir.exists()  # a data dir given by the caller is kept

    second = KafkaBroker(data_dir=data_dir).start()  # new free ports, same dir: not formatted again
    try:
        assert (data_dir / "data" / "meta.properties").read_text() == meta
        print(f"restarted on port {second.port} (was {first_port}) in {second.startup_seconds:.1f}s")
        assert topic_partitions(second.bootstrap_servers, "history") == 3
        consumer = Consumer(
            {"bootstrap.servers": second.bootstrap_servers, "group.id": "unused", "fetch.wait.max.ms": 50}
        )
        try:
            consumer.assign([TopicPartition("history", p, OFFSET_BEGINNING) for p in range(3)])
            seen: list[tuple[bytes, bytes]] = []

            def all_read() -> bool:
                for msg in consumer.consume(num_messages=100, timeout=0.5):
                    assert msg.error() is None, msg.error()
                    seen.append((msg.key(), msg.value()))
                return len(seen) >= len(records)

            wait_for(all_read, 60, "the messages written before the restart")
            assert sorted(seen) == sorted(records)
        finally:
            consumer.close()
    finally:
        assert second.stop() in (0, 143)  # 143 = 128 + SIGTERM: the JVM's clean shutdown


@own_brokers
def test_a_second_broker_on_a_data_dir_in_use_is_refused(
    kafka_broker: KafkaBroker | ExternalKafka,
) -> None:
    assert isinstance(kafka_broker, KafkaBroker)
    # Kafka's own log-dir lock comes too late: the intruder's controller would already have written
    # to the running broker's metadata log (seen: the running broker then hangs in shutdown).
    intruder = KafkaBroker(data_dir=kafka_broker.data_dir)
    with pytest.raises(BrokerError, match=rf"in use by another local broker \(pid {kafka_broker.pid}\)"):
        intruder.start(timeout=60)
    assert intruder.pid is None
    assert kafka_broker.poll() is None  # the broker that owns the dir is unharmed and still serves
    name = f"t-{uuid.uuid4().hex[:8]}"
    kafka_broker.create_topic(name, partitions=1)
    assert topic_partitions(kafka_broker.bootstrap_servers, name) == 1


@own_brokers
def test_a_config_the_broker_rejects_is_reported_and_a_fresh_dir_is_cleaned_up() -> None:
    broker = KafkaBroker(overrides={"log.retention.hours": "abc"})
    with pytest.raises(BrokerError, match=r"Invalid value abc for configuration log\.retention\.hours"):
        broker.start(timeout=60)
    data_dir = broker.data_dir
    assert data_dir is not None and data_dir.parent == RUN_DIR  # a fresh dir under .run/ ...
    assert data_dir.exists()  # ... kept after a failed start, for its logs
    assert broker.stop() is None
    assert not data_dir.exists()  # ... and removed by stop()


# --- broker/stack.py supervising children (fake ones: the real producer/dashboard have their own tests)


def fake_children(tmp_path: Path, dash_code: str) -> Callable[[str, str], dict[str, list[str]]]:
    """Child commands like stack.child_commands; each first writes "<pid> <args>" to DIR/<name>."""
    prologue = (
        "import os, pathlib, sys, time\n"
        f"DIR = pathlib.Path({str(tmp_path)!r})\n"
        "tmp = DIR / (sys.argv[1] + '.tmp')  # one per child: both start at once\n"
        "tmp.write_text(f'{os.getpid()} {sys.argv[2:]}')\n"
        "os.replace(tmp, DIR / sys.argv[1])\n"
    )

    def commands(bootstrap: str, topic: str) -> dict[str, list[str]]:
        args = ["--bootstrap-servers", bootstrap, "--topic", topic]
        return {
            "producer": [sys.executable, "-c", prologue + "time.sleep(60)", "producer", *args],
            "dash_app": [sys.executable, "-c", prologue + dash_code, "dash_app", *args],
        }

    return commands


def started(tmp_path: Path, name: str) -> tuple[int, str]:
    """Wait until child `name` has started; its pid and its arguments (as a str of the list)."""
    path = tmp_path / name
    pid, _, args = wait_for(lambda: path.exists() and path.read_text(), 30, f"{name} to start").partition(" ")
    return int(pid), args


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_stack_stops_everything_when_a_child_dies(
    kafka_broker: KafkaBroker | ExternalKafka, kafka_topic: str, tmp_path: Path
) -> None:
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers, "METRICS_TOPIC": kafka_topic}
    handlers = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    # the dashboard fails once the producer is up; the stack must then stop the producer
    crash = "while not (DIR / 'producer').exists(): time.sleep(0.01)\nraise SystemExit(3)"
    assert stack.run(env, fake_children(tmp_path, crash)) == 1
    producer_pid, producer_args = started(tmp_path, "producer")
    assert producer_args == str(["--bootstrap-servers", kafka_broker.bootstrap_servers, "--topic", kafka_topic])
    assert gone(producer_pid)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers  # restored


def test_stack_stops_its_children_on_sigterm(
    kafka_broker: KafkaBroker | ExternalKafka, kafka_topic: str, tmp_path: Path
) -> None:
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers, "METRICS_TOPIC": kafka_topic}
    pids: list[int] = []

    def terminate_stack_once_both_run() -> None:
        pids.extend(started(tmp_path, name)[0] for name in ("producer", "dash_app"))
        os.kill(os.getpid(), signal.SIGTERM)  # what `kill <stack pid>` does

    killer = threading.Thread(target=terminate_stack_once_both_run)
    killer.start()
    assert stack.run(env, fake_children(tmp_path, "time.sleep(60)")) == 0
    killer.join()
    assert len(pids) == 2 and all(gone(pid) for pid in pids)


@own_brokers
def test_a_picked_port_taken_before_kafka_binds_it_is_picked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_pick = launcher.pick_free_ports
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        picks = iter([[taken, real_pick(1)[0]]])  # first pick: someone grabbed the port meanwhile
        monkeypatch.setattr(launcher, "pick_free_ports", lambda n, host: next(picks, None) or real_pick(n, host))
        # Two JVM starts (the first dies on the taken port) share start()'s budget: 90 s by default
        # ran out on a loaded 2-core machine before the second broker was up.
        broker = KafkaBroker(data_dir=tmp_path / "kafka").start(timeout=300)
        try:
            assert broker.port != taken
            assert "Address already in use" in broker.stdout_log.read_text()  # the first try failed
            broker.create_topic("after-retry", partitions=1)
        finally:
            assert broker.stop() in (0, 143)
