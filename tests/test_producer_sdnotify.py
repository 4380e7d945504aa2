"""The systemd notify/watchdog protocol for real: the test plays systemd on a unix datagram socket.

READY=1 must come once the settings are valid and the Kafka client exists (never for a bad config),
WATCHDOG=1 must keep coming from the sampling loop, and a loop stalled in a sampler must stop them.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from producer.samplers import MetricSpec, Sampler
from producer.sdnotify import Notifier
from producer.service import Service
from producer.sink import PrintSink
from tests.support import ROOT, free_port


class Systemd:
    """The receiving end of $NOTIFY_SOCKET: every datagram, split into its KEY=VALUE fields."""

    def __init__(self, path: Path | None = None) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if path is None:
            name = f"metrics-producer-test-{uuid.uuid4().hex}"
            self.sock.bind(b"\0" + name.encode())
            self.address = "@" + name
        else:
            self.sock.bind(str(path))
            self.address = str(path)
        self.received: list[list[str]] = []

    def recv(self, timeout: float) -> list[str] | None:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except (TimeoutError, BlockingIOError):  # timeout 0 makes the socket non-blocking
            return None
        fields = data.decode().split("\n")
        self.received.append(fields)
        return fields

    def wait_for(self, field: str, timeout: float = 10.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            fields = self.recv(left)
            if fields is not None and field in fields:
                return fields
        raise AssertionError(f"no {field} within {timeout:g} s; got {self.received[-5:]}")

    def drain(self) -> None:
        while self.recv(0.0) is not None:
            pass

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def systemd() -> Iterator[Systemd]:
    s = Systemd()
    try:
        yield s
    finally:
        s.close()


# --- the Notifier on its own ------------------------------------------------------------------------


def test_no_socket_no_messages() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert not notifier.ready("x")
    assert notifier.watchdog_interval is None


def test_abstract_and_path_sockets(systemd: Systemd, tmp_path: Path) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": systemd.address})
    assert notifier.ready("sampling")
    notifier.close()
    assert systemd.recv(5) == ["READY=1", "STATUS=sampling"]
    on_disk = Systemd(tmp_path / "notify")
    notifier = Notifier({"NOTIFY_SOCKET": on_disk.address})
    try:
        assert notifier.watchdog("ok")
        assert on_disk.recv(5) == ["WATCHDOG=1", "STATUS=ok"]
    finally:
        notifier.close()
        on_disk.close()


def test_unsupported_or_dead_socket_is_not_fatal(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert not Notifier({"NOTIFY_SOCKET": "vsock:2:1234"}).enabled
    gone = Notifier({"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")})
    assert not gone.ready("x")
    assert not gone.watchdog()
    gone.close()
    assert len([r for r in caplog.records if "cannot notify systemd" in r.getMessage()]) == 1


def test_pings_never_block_when_systemd_does_not_read(systemd: Systemd) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": systemd.address})
    try:
        # Ping until one does not fit. Where that happens depends on the host: the receiver's queue
        # (net.unix.max_dgram_qlen: 10 by default, 512 where systemd sets it) or the sender's buffer
        # (about 280 pings with the default wmem), so a fixed 200 could all fit.
        started = time.monotonic()
        sent = [notifier.watchdog("x")]
        while sent[-1] and len(sent) < 100_000:
            sent.append(notifier.watchdog("x"))
        assert time.monotonic() - started < 5.0  # a blocking send would never return: no one reads
        assert sent[0] and not sent[-1]  # the one that did not fit was dropped, not waited for
        systemd.drain()
        assert notifier.watchdog("again")  # room again: pings go through
    finally:
        notifier.close()


@pytest.mark.parametrize(
    ("env", "interval"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 10.0),
        ({"WATCHDOG_USEC": "300000", "WATCHDOG_PID": str(os.getpid())}, 0.1),
        ({"WATCHDOG_USEC": "300000", "WATCHDOG_PID": "1"}, None),  # meant for another process
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval_is_a_third_of_watchdog_usec(env: dict[str, str], interval: float | None) -> None:
    got = Notifier({"NOTIFY_SOCKET": "@x", **env}).watchdog_interval
    assert got == (pytest.approx(interval) if interval is not None else None)


# --- the sampling loop pings; a stalled loop does not -----------------------------------------------


class StallingSampler(Sampler):
    family = "stall"
    metrics = (MetricSpec("stall.value", "1", "gauge", "test"),)

    def __init__(self) -> None:
        super().__init__()
        self.stall = threading.Event()  # set: the next sample() blocks until `release`
        self.stalled = threading.Event()
        self.release = threading.Event()

    def sample(self) -> dict[str, float]:
        if self.stall.is_set():
            self.stalled.set()
            self.release.wait(30)
        return {"stall.value": 1.0}


def test_loop_pings_the_watchdog_and_a_stalled_loop_stops(systemd: Systemd) -> None:
    watchdog_usec = 300_000  # systemd would kill us 0.3 s after the last ping
    notifier = Notifier({"NOTIFY_SOCKET": systemd.address, "WATCHDOG_USEC": str(watchdog_usec)})
    sampler = StallingSampler()
    service = Service([sampler], PrintSink(io.StringIO()), host_id="h", interval=0.1, flush_timeout=1.0,
                      notifier=notifier)  # fmt: skip
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    try:
        first = systemd.recv(10)
        assert first is not None and first[0] == "READY=1"
        for _ in range(3):
            systemd.wait_for("WATCHDOG=1", timeout=5)

        sampler.stall.set()
        assert sampler.stalled.wait(10), "the loop never reached the sampler"
        systemd.drain()  # a ping sent just before the sampler blocked
        window = 3 * watchdog_usec / 1e6
        deadline = time.monotonic() + window
        while (left := deadline - time.monotonic()) > 0:
            fields = systemd.recv(left)
            assert fields is None or "WATCHDOG=1" not in fields, "pinged while the loop was stuck"

        sampler.release.set()
        systemd.wait_for("WATCHDOG=1", timeout=5)  # the loop runs again: pings resume
    finally:
        sampler.release.set()
        service.stop()
        thread.join(10)
    assert not thread.is_alive()
    systemd.wait_for("STOPPING=1", timeout=5)


# --- the real process -------------------------------------------------------------------------------


def _producer(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "PRODUCER_", "NOTIFY_", "WATCHDOG_"))}
    return subprocess.Popen(
        [sys.executable, "-m", "producer", *args],
        cwd=ROOT,
        env={**clean, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_process_is_ready_pings_and_says_stopping(systemd: Systemd) -> None:
    # Kafka mode against a port nobody listens on: READY needs the client, not a connection.
    env = {"NOTIFY_SOCKET": systemd.address, "WATCHDOG_USEC": "600000"}
    args = ["--interval", "0.2", "--flush-timeout", "1", "--bootstrap-servers", f"127.0.0.1:{free_port()}"]
    proc = _producer(args, env)
    try:
        ready = systemd.wait_for("READY=1", timeout=30)
        assert "STATUS=sampling every 0.2 s" in ready
        pings = [systemd.wait_for("WATCHDOG=1", timeout=5) for _ in range(3)]
        assert any(f.startswith("STATUS=") and "sampled" in f for f in pings[-1])
        proc.send_signal(signal.SIGTERM)
        stopping = systemd.wait_for("STOPPING=1", timeout=10)
        assert any(f.startswith("STATUS=flushing") for f in stopping)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


@pytest.mark.parametrize(
    "env",
    [{"PRODUCER_TOPIC": "no spaces"}, {"KAFKA_NO_SUCH_SETTING": "1"}],
    ids=["bad-setting", "rejected-by-librdkafka"],
)
def test_no_ready_for_a_bad_config(systemd: Systemd, env: dict[str, str]) -> None:
    proc = _producer(["--interval", "0.2"], {"NOTIFY_SOCKET": systemd.address, **env})
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert len(stderr.strip().splitlines()) == 1
    assert systemd.recv(0.0) is None  # the process is gone: anything it sent would be here
