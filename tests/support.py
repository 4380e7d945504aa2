"""Helpers shared by tests: free ports, waiting on conditions, real servers and processes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import uvicorn

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll ``predicate`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception as exc:  # the condition may not be observable yet
            last_exc = exc
        else:
            if value:
                return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last error: {last_exc!r})")


@contextlib.contextmanager
def serve_asgi(app: Any) -> Iterator[str]:
    """Run an ASGI app under a real uvicorn server in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                          ws="websockets-sansio", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 20, "uvicorn to start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)


class Process:
    """A child process of ours (python -m ...), stopped by PID with SIGTERM then SIGKILL."""

    def __init__(self, args: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.args = args
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        return self.proc.returncode


def start_dashboard(tmp: Path, bootstrap: str, topic: str, *extra: str, name: str = "dash") -> tuple[Process, str]:
    import urllib.request

    port = free_port()
    proc = Process(["-m", "dash_app", "--port", str(port), "--bootstrap-servers", bootstrap,
                    "--topic", topic, *extra], tmp / f"{name}.log")
    base = f"http://127.0.0.1:{port}"
    prefix = next((extra[i + 1] for i, a in enumerate(extra) if a == "--url-prefix"), "/")

    def up() -> bool:
        if proc.proc.poll() is not None:
            raise AssertionError(f"dashboard exited early:\n{proc.log()}")
        with urllib.request.urlopen(base + prefix + "healthz", timeout=2) as r:
            return r.status == 200

    try:
        wait_for(up, 60, "the dashboard's /healthz")
    except BaseException:
        proc.stop()
        raise
    return proc, base + prefix


def seed_partitions(bootstrap: str, topic: str) -> int:
    """Write one record that decodes to nothing (v1 with no metrics) to every partition of ``topic``;
    returns how many, which the dashboard's ``messages_consumed`` will count. Call it BEFORE starting a
    dashboard on a fresh topic that the test then produces to live.

    Why: a partition with nothing in the history window is followed from OFFSET_END, which librdkafka
    resolves only some time after assign(), so after /healthz says "connected": a record produced in
    that gap is never read (seen under load, about 1 start in 15). A partition that holds a record is
    read from that record's offset instead, so nothing produced afterwards can be skipped.
    """
    import orjson
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap})
    partitions = sorted(p.list_topics(topic, timeout=30).topics[topic].partitions)
    now = int(time.time() * 1000)
    for partition in partitions:
        p.produce(topic, partition=partition, key=b"seed",
                  value=orjson.dumps({"v": 1, "host": "seed", "ts": now, "seq": 0, "metrics": {}}))
    assert p.flush(30) == 0
    return len(partitions)


def ws_of(url: str) -> str:
    """The dashboard's WebSocket URL for its base URL (``http://host:port/prefix/``)."""
    return url.replace("http", "ws", 1) + "ws"


class Client:
    """A page stand-in on the dashboard's WebSocket: applies frames by the protocol's rules (a snapshot
    replaces everything, catchup continues from its ``from``, data after what was seen) and records
    every point per (host, metric)."""

    def __init__(self, url: str, hello: dict[str, Any]) -> None:
        import orjson
        from websockets.sync.client import connect

        # max_queue=None: the client's I/O thread reads every frame as it comes (a browser does too),
        # also while the test is busy elsewhere. With the default 16-frame queue it stopped reading,
        # so pings went unanswered and the dashboard saw a reader too slow to keep (4008) or the
        # keepalive failed (1011) on a loaded machine.
        self.ws = connect(ws_of(url), legacy=True, max_size=None, max_queue=None)
        self.ws.send(orjson.dumps(hello).decode())
        self.points: dict[tuple[str, str], list[int]] = {}
        self.epoch: str | None = None
        self.last = -1
        self.kinds: list[str] = []
        self.status: dict[str, Any] | None = None

    def pump(self, until: Callable[[Client], Any], timeout: float = 30.0) -> None:
        """Apply frames until ``until(self)``; fail with what was seen after ``timeout`` s."""
        import orjson

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                frame = orjson.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            except TimeoutError:
                break
            self.kinds.append(frame["type"])
            self.status = frame.get("status", self.status)
            if frame["type"] == "snapshot":
                self.points = {}
                self.epoch, self.last = frame["epoch"], frame["seq"]
            elif frame["type"] == "catchup":
                assert frame["from"] == self.last and frame["epoch"] == self.epoch
                self.last = frame["seq"]
            elif frame["type"] == "data":
                if frame["seq"] <= self.last:
                    continue
                assert frame["prev"] <= self.last, "a frame was lost"
                self.last = frame["seq"]
            else:
                raise AssertionError(f"unexpected frame {frame}")
            for s in frame["series"]:
                self.points.setdefault((s["host"], s["metric"]), []).extend(s["ts"])
            if until(self):
                return
        raise AssertionError(f"condition not met in {timeout}s; frames: {self.kinds[:3]}..{self.kinds[-3:]}; "
                             f"{ {k: len(v) for k, v in self.points.items()} }")

    def close(self) -> None:
        self.ws.close()


def healthz(url: str) -> dict[str, Any]:
    import json
    import urllib.request

    with urllib.request.urlopen(url + "healthz", timeout=5) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]
