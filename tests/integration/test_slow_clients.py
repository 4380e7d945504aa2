"""A page that stops reading never slows the others: it is disconnected with a reason, they get everything."""

from __future__ import annotations

import base64
import os
import socket
import time
import urllib.request

import orjson
import pytest
from confluent_kafka import Producer

from tests.support import Client, healthz, start_dashboard, wait_for

pytestmark = pytest.mark.integration

HOSTS, METRICS, ROUNDS = 100, 50, 120  # 600,000 points, ~12 MB of frames per client


def raw_ws_ready(url: str) -> socket.socket:
    """A WebSocket client by hand, with a tiny receive buffer, that sends "ready" and stops reading."""
    host, port = url.split("/")[2].split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    payload = b'{"type":"ready"}'
    mask = os.urandom(4)
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    return sock


def close_code(sock: socket.socket) -> int:
    """Read (now, at last) until the server's close frame; return its code."""
    sock.settimeout(30)
    buf = b""
    while True:
        chunk = sock.recv(1 << 20)
        assert chunk, "connection ended without a close frame"
        buf += chunk
        while len(buf) >= 2:
            op, n, i = buf[0] & 0x0F, buf[1] & 0x7F, 2
            if n == 126:
                n, i = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                n, i = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < i + n:
                break
            if op == 0x8:
                return int.from_bytes(buf[i:i + 2], "big")
            buf = buf[i + n:]


def scrape(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url + "metrics", timeout=5) as r:
        lines = r.read().decode().splitlines()
    return {k: float(v) for k, v in (ln.rsplit(" ", 1) for ln in lines if ln and not ln.startswith("#"))}


def test_stalled_client_is_closed_while_others_get_everything(kafka_broker, kafka_topic, tmp_path):
    # 10 s, not less: the healthy client below is a Python process decoding ~50 MB of frames; on a
    # loaded machine it can fall a few seconds behind and must not be taken for a frozen tab.
    dash, url = start_dashboard(tmp_path, kafka_broker.bootstrap_servers, kafka_topic, "--client-timeout", "10")
    try:
        wait_for(lambda: healthz(url)["kafka"]["state"] == "connected", 30, "connected")
        stalled = raw_ws_ready(url)  # says ready, then never reads again: a frozen tab
        healthy = Client(url, {"type": "ready"})
        healthy.pump(lambda c: c.kinds == ["snapshot"])
        p = Producer({"bootstrap.servers": kafka_broker.bootstrap_servers, "linger.ms": 20})
        t0 = int(time.time() * 1000) - ROUNDS * 1000
        for r in range(ROUNDS):
            for h in range(HOSTS):
                p.produce(kafka_topic, key=b"h%d" % h, value=orjson.dumps(
                    {"v": 1, "host": f"h{h}", "ts": t0 + r * 1000, "seq": r,
                     "metrics": {f"m.x{m}": float(r) for m in range(METRICS)}}))
            p.poll(0)
        assert p.flush(30) == 0
        total = HOSTS * METRICS * ROUNDS
        healthy.pump(lambda c: sum(len(v) for v in c.points.values()) == total, timeout=120)
        assert all(len(v) == ROUNDS for v in healthy.points.values())
        try:
            m = wait_for(lambda: (s := scrape(url))["metrics_relay_slow_disconnects_total"] == 1 and s, 60,
                         "the stalled client to be disconnected")
        except AssertionError:
            print({k: v for k, v in scrape(url).items() if "relay_" in k and "latency" not in k})
            raise
        # (coalescing a backlog before the timeout is covered in tests/test_hub.py with a fake clock)
        assert m["metrics_relay_clients"] == 1  # forgotten at once, before its socket even drains
        try:
            assert close_code(stalled) == 4008
        finally:
            stalled.close()
        healthy.close()
    finally:
        dash.stop()


def test_sigterm_stops_the_relay_promptly_with_a_stalled_client_attached(kafka_broker, kafka_topic, tmp_path):
    """A frozen tab holding a full socket must not keep the relay from stopping (systemd, a deploy)."""
    dash, url = start_dashboard(tmp_path, kafka_broker.bootstrap_servers, kafka_topic, "--client-timeout", "120")
    stalled = None
    try:
        wait_for(lambda: healthz(url)["kafka"]["state"] == "connected", 30, "connected")
        stalled = raw_ws_ready(url)
        p = Producer({"bootstrap.servers": kafka_broker.bootstrap_servers, "linger.ms": 20})
        t0 = int(time.time() * 1000) - 40_000
        for r in range(40):  # ~4 MB of frames for a client that reads none of them
            for h in range(HOSTS):
                p.produce(kafka_topic, key=b"h%d" % h, value=orjson.dumps(
                    {"v": 1, "host": f"h{h}", "ts": t0 + r * 1000,
                     "metrics": {f"m.x{m}": float(r) for m in range(METRICS)}}))
            p.poll(0)
        assert p.flush(30) == 0
        wait_for(lambda: healthz(url)["points"] == 40 * HOSTS * METRICS, 60, "every point stored")
        wait_for(lambda: scrape(url)["metrics_relay_frames_sent_total"] > 20, 30, "frames sent to the stalled client")
        started = time.monotonic()
        code = dash.stop(timeout=60)
        took = time.monotonic() - started
        assert took < 15, f"SIGTERM took {took:.1f} s with a stalled client attached"
        assert code in (0, -15), code  # uvicorn re-raises the SIGTERM it handled (systemd: clean)
    finally:
        dash.stop()
        if stalled is not None:
            stalled.close()
