"""The producer survives Kafka going away, on a broker of its own that the tests stop and restart.

- Broker stopped for 20 s mid-run and restarted on the same ports and data: every sample taken during
  the outage arrives after recovery, in order, none duplicated, none lost (checked by `seq`), without
  restarting the producer.
- Broker absent when the producer starts, for longer than its buffer holds: the producer keeps running
  and sampling, drops the oldest held samples (counted in `agent.samples_dropped`, logged), and
  delivers the rest, in order, once the broker appears.

The test watches the producer through its systemd notify socket (STATUS= lines with its counts) rather
than sleeping: it waits for what the producer says it has done.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from broker.launcher import KafkaBroker, fetch_libs
from tests.integration.test_producer_kafka import _consumer, _value
from tests.support import ROOT, free_port
from tests.test_producer_sdnotify import Systemd

pytestmark = pytest.mark.integration

HOST = "outage-host"
_STATUS = re.compile(r"STATUS=(\d+) sampled, (\d+) delivered, (\d+) held, (\d+) dropped, (\d+) refused")
_STOPPED = re.compile(r"stopped: (\d+) sampled, (\d+) delivered, (\d+) held, (\d+) dropped, (\d+) refused")


class Agent:
    """`python -m producer` with the test playing systemd, so its progress can be read from STATUS=."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        tmp_path: Path,
        *args: str,
        host: str = HOST,
        env: dict[str, str] | None = None,
    ) -> None:
        self.systemd = Systemd()
        self.stderr_path = tmp_path / "producer.log"
        self._stderr = self.stderr_path.open("w")
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "PRODUCER_"))}
        environ.update(NOTIFY_SOCKET=self.systemd.address, WATCHDOG_USEC="300000", **(env or {}))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "producer", "--bootstrap-servers", bootstrap, "--topic", topic,
             "--host-id", host, "--log-level", "debug", *args],
            cwd=ROOT, env=environ, stdout=subprocess.DEVNULL, stderr=self._stderr,
        )  # fmt: skip
        self.status = {"sampled": 0, "delivered": 0, "held": 0, "dropped": 0, "refused": 0}

    def log(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def watch(self, until: Any, timeout: float, what: str) -> dict[str, int]:
        """Read STATUS= lines until `until(status)` holds (or, with until=None, for `timeout` s)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            assert self.proc.poll() is None, f"the producer exited ({self.proc.returncode}):\n{self.log()[-3000:]}"
            fields = self.systemd.recv(min(left, 1.0))
            for field in fields or ():
                match = _STATUS.fullmatch(field)
                if match:
                    self.status = dict(zip(self.status, map(int, match.groups()), strict=True))
            if until is not None and until(self.status):
                return self.status
        if until is not None:
            raise AssertionError(f"timed out waiting for {what}; last status {self.status}\n{self.log()[-3000:]}")
        return self.status

    def stop(self) -> tuple[int, dict[str, int]]:
        """SIGTERM; returns the exit status and the final counts from the producer's last log line."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=60)
        self._stderr.close()
        match = _STOPPED.search(self.log())
        assert match, self.log()[-3000:]
        return code, dict(zip(self.status, map(int, match.groups()), strict=True))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self._stderr.closed:
            self._stderr.close()
        self.systemd.close()


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """A broker for this module only (fixed free ports, one data dir), created but not started: each test
    starts and stops it as its scenario needs. Topics are auto-created, as many production clusters do,
    so a producer that starts before the broker needs nobody to create its topic."""
    fetch_libs()
    data_dir = tmp_path_factory.mktemp("outage-kafka")
    broker = KafkaBroker(port=free_port(), controller_port=free_port(), data_dir=data_dir, auto_create_topics=True)
    try:
        yield broker
    finally:
        broker.stop()


def _running(broker: KafkaBroker) -> bool:
    return broker.pid is not None and broker.poll() is None


def _samples(bootstrap: str, topic: str, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Every sample of HOST on the topic, in offset order, once `count` have arrived (or the deadline)."""
    got: list[dict[str, Any]] = []
    partitions: set[int] = set()
    deadline = time.monotonic() + timeout
    with _consumer(bootstrap, topic) as consumer:
        while len(got) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            assert msg.key() == HOST.encode()
            partitions.add(msg.partition())
            got.append(_value(msg))
    assert len(partitions) <= 1, "one host, one key, one partition"
    return got


def test_broker_absent_at_start_keeps_newest_drops_oldest_and_delivers_once_it_appears(
    own_broker: KafkaBroker, tmp_path: Path
) -> None:
    broker = own_broker
    if _running(broker):
        broker.stop()
    topic = "outage-at-start"
    capacity, window = 30, 15  # the sink hands min(100, capacity // 2) samples to librdkafka
    agent = Agent(f"127.0.0.1:{broker.port}", topic, tmp_path, "--interval", "0.1", "--buffer-samples", str(capacity))
    try:
        held = agent.watch(lambda s: s["dropped"] >= 20, 60, "the buffer to overflow")
        assert held["held"] == capacity and held["delivered"] == 0, held

        broker.start()
        agent.watch(lambda s: s["delivered"] >= capacity + 10 and s["held"] <= 2, 90, "delivery to catch up")
        code, final = agent.stop()
    finally:
        agent.close()
    assert code == 0, agent.log()[-3000:]
    # Absent for more than topic.metadata.propagation.max.ms (30 s, easily reached on a loaded machine),
    # the in-flight window comes back "Unknown topic or partition" from the auto-created topic: the sink
    # produces those samples again instead of counting them refused.
    assert final["refused"] == 0, agent.log()[-3000:]
    assert final["delivered"] + final["dropped"] == final["sampled"], final

    samples = _samples(broker.bootstrap_servers, topic, final["delivered"])
    seqs = [s["seq"] for s in samples]
    assert len(seqs) == final["delivered"]
    assert seqs[:window] == list(range(window)), "the window handed to librdkafka before the outage showed"
    gap_end = seqs[window]
    assert gap_end > window, "the oldest held samples were dropped"
    assert seqs[window:] == list(range(gap_end, final["sampled"])), "then the newest, in order, none twice"
    missing = final["sampled"] - len(seqs)
    assert missing == final["dropped"] == samples[-1]["metrics"]["agent.samples_dropped"]
    log = agent.log()
    assert f"local buffer full ({capacity} samples held, Kafka unreachable?): dropping the oldest" in log
    assert "caught up: every held sample is delivered" in log


def test_broker_stopped_20s_mid_run_every_sample_arrives_in_order_once(
    own_broker: KafkaBroker, tmp_path: Path
) -> None:
    broker = own_broker
    if not _running(broker):
        broker.start()
    topic = "outage-mid-run"
    agent = Agent(broker.bootstrap_servers, topic, tmp_path, "--interval", "0.2")
    try:
        agent.watch(lambda s: s["delivered"] >= 5, 60, "the first samples to be delivered")

        broker.stop()
        down_ms = time.time() * 1000
        during = agent.watch(None, 20.0, "")  # the outage: the producer keeps sampling and holding
        assert during["held"] >= 50, during  # ~100 samples in 20 s at 5 Hz, none acknowledged
        assert during["dropped"] == 0

        broker.start()  # same ports, same data directory; the producer is not touched
        up_ms = time.time() * 1000
        agent.watch(lambda s: s["held"] <= 2 and s["delivered"] > during["sampled"], 90, "the backlog to drain")
        code, final = agent.stop()
    finally:
        agent.close()
    assert code == 0, agent.log()[-3000:]
    assert final["dropped"] == 0 and final["refused"] == 0, final
    assert final["delivered"] == final["sampled"], final

    samples = _samples(broker.bootstrap_servers, topic, final["sampled"])
    seqs = [s["seq"] for s in samples]
    assert seqs == list(range(final["sampled"])), "every sample once, in order"
    outage = [s for s in samples if down_ms <= s["ts"] <= up_ms]
    assert len(outage) >= 80, f"only {len(outage)} samples were taken during the 20+ s outage"
    assert max(s["metrics"]["agent.buffer_depth"] for s in outage) >= 50  # the dashboard sees the backlog
    ts = [s["ts"] for s in samples]
    assert ts == sorted(ts)
    log = agent.log()
    assert "holding them locally" not in log or "caught up" in log
