"""The hub behind a real uvicorn server, fed directly (no Kafka): frames, snapshot, resync, errors."""

import orjson
import pytest
from websockets.sync.client import connect

from dash_app.app import create_app
from dash_app.config import DashboardConfig
from dash_app.hub import Hub
from dash_app.messages import Sample
from dash_app.store import SeriesStore
from tests.support import healthz, serve_asgi, wait_for


def recv(ws, timeout=5.0):
    return orjson.loads(ws.recv(timeout=timeout))


def recv_until(ws, pred, timeout=10.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = recv(ws, timeout=max(0.1, deadline - time.monotonic()))
        if pred(frame):
            return frame
    raise AssertionError("no matching frame")


@pytest.fixture
def app():
    return create_app(DashboardConfig(frame_interval=0.05), start_consumer=False)


def now_ms():
    import time

    return int(time.time() * 1000)


def test_nothing_is_sent_before_ready_then_snapshot_then_sequenced_data(app):
    hub = app.state.hub
    t0 = now_ms()
    hub.submit([Sample("h1", t0, 0, {"cpu.percent": 1.0, "mem.used_percent": 50.0})])
    with serve_asgi(app) as base, connect(base.replace("http", "ws") + "/ws") as ws:
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.3)  # heartbeats would flow by now if it sent before "ready"
        ws.send('{"type":"ready"}')
        snap = recv(ws)
        assert snap["type"] == "snapshot"
        assert {(s["host"], s["metric"]): s["ts"] for s in snap["series"]} == {
            ("h1", "cpu.percent"): [t0], ("h1", "mem.used_percent"): [t0]}
        t1 = t0 + 1000
        hub.submit([Sample("h1", t1, 1, {"cpu.percent": 2.0}), Sample("h2", t1, 0, {"cpu.percent": 3.0})])
        frame = recv_until(ws, lambda f: f["type"] == "data" and f["series"])
        assert frame["seq"] > snap["seq"]
        got = {(s["host"], s["metric"]): (s["ts"], s["y"]) for s in frame["series"]}
        assert got == {("h1", "cpu.percent"): ([t1], [2.0]), ("h2", "cpu.percent"): ([t1], [3.0])}


def test_data_frames_are_consecutive_and_heartbeats_carry_status(app):
    with serve_asgi(app) as base, connect(base.replace("http", "ws") + "/ws") as ws:
        ws.send('{"type":"ready"}')
        last = recv(ws)["seq"]
        for _ in range(3):
            frame = recv(ws, timeout=3)
            assert frame["seq"] == last + 1
            last = frame["seq"]
            assert frame["status"]["kafka"] == "connecting"
            assert frame["status"]["clients"] == 1


def test_resync_returns_a_snapshot_with_every_point_once(app):
    hub = app.state.hub
    with serve_asgi(app) as base, connect(base.replace("http", "ws") + "/ws") as ws:
        ws.send('{"type":"ready"}')
        recv(ws)
        t0 = now_ms()
        hub.submit([Sample("h", t0 + i, i, {"m.x": float(i)}) for i in range(50)])
        recv_until(ws, lambda f: f["type"] == "data" and f["series"])
        ws.send('{"type":"resync","n":2}')
        snap = recv_until(ws, lambda f: f["type"] == "snapshot")
        assert snap["series"][0]["ts"] == [t0 + i for i in range(50)]


def test_garbage_from_the_client_gets_an_error_frame_and_the_socket_stays(app):
    with serve_asgi(app) as base, connect(base.replace("http", "ws") + "/ws") as ws:
        ws.send("}{ not json")
        assert recv(ws) == {"type": "error", "error": "not JSON"}
        ws.send(b"\x00\x01")
        assert recv(ws)["type"] == "error"
        ws.send('{"type":"ready"}')
        assert recv_until(ws, lambda f: f["type"] == "snapshot")


def test_healthz_counts_clients(app):
    with serve_asgi(app) as base:
        assert healthz(base + "/")["clients"] == 0
        with connect(base.replace("http", "ws") + "/ws"):
            wait_for(lambda: healthz(base + "/")["clients"] == 1, 5, "client to be counted")
        wait_for(lambda: healthz(base + "/")["clients"] == 0, 5, "client to be forgotten")


def test_tick_without_news_sends_nothing_until_heartbeat():
    hub = Hub(SeriesStore(60_000, 10, 10), 0.1, lambda: {"kafka": "connected"}, heartbeat_interval=1.0)
    assert hub.tick(now=100.0) is not None  # first tick is a heartbeat
    assert hub.tick(now=100.1) is None
    hub.submit([Sample("h", 5, 0, {"a": 1.0})])
    assert orjson.loads(hub.tick(now=100.2))["series"][0]["ts"] == [5]
    assert "status" in orjson.loads(hub.tick(now=101.1))
    assert hub.seq == 3
