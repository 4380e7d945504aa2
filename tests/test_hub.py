"""The hub behind a real uvicorn server, fed directly (no Kafka): frames, snapshot, resume, subscriptions,
slow clients, /metrics."""

import asyncio
import time
import urllib.request

import orjson
import pytest
from websockets.sync.client import connect

from dash_app import hub as hub_mod
from dash_app.app import create_app
from dash_app.config import DashboardConfig
from dash_app.hub import Hub, _Client
from dash_app.messages import Sample
from dash_app.protocol import ClientRequest, Subscription
from dash_app.store import SeriesStore
from tests.support import healthz, serve_asgi, wait_for


def now_ms():
    return int(time.time() * 1000)


def recv(ws, timeout=5.0):
    return orjson.loads(ws.recv(timeout=timeout))


def recv_until(ws, pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = recv(ws, timeout=max(0.1, deadline - time.monotonic()))
        if pred(frame):
            return frame
    raise AssertionError("no matching frame")


def series_of(frame):
    return {(s["host"], s["metric"]): s["ts"] for s in frame["series"]}


@pytest.fixture
def app():
    return create_app(DashboardConfig(frame_interval=0.05), start_consumer=False)


def ws_url(base):
    return base.replace("http", "ws") + "/ws"


def test_nothing_is_sent_before_ready_then_snapshot_then_chained_data(app):
    hub = app.state.hub
    t0 = now_ms()
    hub.submit([Sample("h1", t0, 0, {"cpu.percent": 1.0, "mem.used_percent": 50.0})])
    with serve_asgi(app) as base, connect(ws_url(base)) as ws:
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.3)
        ws.send('{"type":"ready"}')
        snap = recv(ws)
        assert snap["type"] == "snapshot" and snap["epoch"] == hub.epoch
        assert series_of(snap) == {("h1", "cpu.percent"): [t0], ("h1", "mem.used_percent"): [t0]}
        t1 = t0 + 1000
        hub.submit([Sample("h1", t1, 1, {"cpu.percent": 2.0}), Sample("h2", t1, 0, {"cpu.percent": 3.0})])
        frame = recv_until(ws, lambda f: f["type"] == "data" and f["series"])
        assert frame["prev"] <= snap["seq"] < frame["seq"]
        assert series_of(frame) == {("h1", "cpu.percent"): [t1], ("h2", "cpu.percent"): [t1]}


def test_heartbeats_chain_and_carry_status(app):
    with serve_asgi(app) as base, connect(ws_url(base)) as ws:
        ws.send('{"type":"ready"}')
        last = recv(ws)["seq"]
        for _ in range(3):
            frame = recv(ws, timeout=3)
            assert frame["prev"] == last and frame["seq"] > last
            last = frame["seq"]
            assert frame["status"]["kafka"] == "connecting"
            assert frame["status"]["clients"] == 1


def test_resync_returns_a_snapshot_with_every_point_once(app):
    hub = app.state.hub
    with serve_asgi(app) as base, connect(ws_url(base)) as ws:
        ws.send('{"type":"ready"}')
        recv(ws)
        t0 = now_ms()
        hub.submit([Sample("h", t0 + i, i, {"m.x": float(i)}) for i in range(50)])
        recv_until(ws, lambda f: f["type"] == "data" and f["series"])
        ws.send('{"type":"resync","n":2}')
        snap = recv_until(ws, lambda f: f["type"] == "snapshot")
        assert snap["series"][0]["ts"] == [t0 + i for i in range(50)]


def test_resume_after_a_dropped_socket_gets_exactly_the_missing_points(app):
    hub = app.state.hub
    t0 = now_ms()
    with serve_asgi(app) as base:
        with connect(ws_url(base)) as ws:
            ws.send('{"type":"ready"}')
            snap = recv(ws)
            hub.submit([Sample("h", t0 + i, i, {"m.x": float(i)}) for i in range(5)])
            frame = recv_until(ws, lambda f: f["type"] == "data" and f["series"])
            seen = series_of(frame)[("h", "m.x")]
            last_seq = frame["seq"]
        assert seen == [t0 + i for i in range(5)] and snap["seq"] < last_seq
        # socket gone; points keep arriving
        hub.submit([Sample("h", t0 + i, i, {"m.x": float(i)}) for i in range(5, 12)])
        wait_for(lambda: hub.store.point_count == 12, 5, "points stored")
        with connect(ws_url(base)) as ws:
            ws.send(orjson.dumps({"type": "resume", "epoch": hub.epoch, "seq": last_seq}).decode())
            catchup = recv(ws)
        assert catchup["type"] == "catchup" and catchup["from"] == last_seq
        assert series_of(catchup) == {("h", "m.x"): [t0 + i for i in range(5, 12)]}
        assert hub.resumes == 1
        with connect(ws_url(base)) as ws:  # another process's epoch (a restarted dashboard)
            ws.send('{"type":"resume","epoch":"someone-else","seq":3}')
            assert recv(ws)["type"] == "snapshot"
        assert hub.resumes_refused == 1


def test_subscription_filters_points_and_snapshot(app):
    hub = app.state.hub
    t0 = now_ms()
    hub.submit([Sample("web-1", t0, 0, {"cpu.percent": 1.0, "mem.used_percent": 2.0}),
                Sample("db-1", t0, 0, {"cpu.percent": 3.0})])
    with serve_asgi(app) as base, connect(ws_url(base)) as ws:
        ws.send('{"type":"subscribe","topics":["host:web-*","metric:cpu.*"]}')
        snap = recv(ws)
        assert series_of(snap) == {("web-1", "cpu.percent"): [t0]}
        hub.submit([Sample("web-1", t0 + 1, 1, {"cpu.percent": 1.0, "mem.used_percent": 2.0}),
                    Sample("db-1", t0 + 1, 1, {"cpu.percent": 3.0})])
        frame = recv_until(ws, lambda f: f["type"] == "data" and f["series"])
        assert series_of(frame) == {("web-1", "cpu.percent"): [t0 + 1]}


def test_a_lower_rate_coalesces_ticks_into_fewer_frames():
    store = SeriesStore(10**9, 1000, 100)
    hub = Hub(store, 0.1, lambda: {"kafka": "connected"}, heartbeat_interval=1.0, clock_ms=lambda: 0,
              clock=lambda: 0.0)
    slow, fast = _Client(0.0), _Client(0.0)
    hub.handle(slow, ClientRequest("subscribe", Subscription(interval=0.5)))
    hub.handle(fast, ClientRequest("ready"))
    for q in (slow.queue, fast.queue):
        q.get_nowait()  # snapshots
    for i in range(10):  # one sample per 0.1 s tick for 1 s
        hub.submit([Sample("h", i + 1, i, {"m": float(i)})])
        hub.tick(now=1.0 + i * 0.1)
    hub.tick(now=2.0)  # no news, but the slow group's pending points are due
    fast_frames = [orjson.loads(fast.queue.get_nowait()) for _ in range(fast.queue.qsize())]
    slow_frames = [orjson.loads(slow.queue.get_nowait()) for _ in range(slow.queue.qsize())]
    assert len(fast_frames) == 10
    assert len(slow_frames) == 3  # t = 1.0, 1.5, 2.0
    assert [t for f in slow_frames for s in f["series"] for t in s["ts"]] == list(range(1, 11))
    assert [f["prev"] for f in slow_frames[1:]] == [f["seq"] for f in slow_frames[:-1]]
    assert hub.frames_encoded == 13  # once per group and due tick, not per client


def test_slow_client_is_coalesced_then_disconnected(monkeypatch):
    monkeypatch.setattr(hub_mod, "QUEUE_FRAMES", 4)
    store = SeriesStore(10**9, 1000, 100)
    hub = Hub(store, 0.1, lambda: {}, stuck_timeout=5.0, clock_ms=lambda: 0, clock=lambda: 0.0)

    async def scenario():
        stuck, ok = _Client(0.0), _Client(0.0)
        stuck.task = asyncio.get_running_loop().create_future()  # stands in for the serve task
        hub.handle(stuck, ClientRequest("ready"))
        hub.handle(ok, ClientRequest("ready"))
        for i in range(8):
            hub.submit([Sample("h", i + 1, i, {"m": float(i)})])
            hub.tick(now=0.1 * (i + 1))
            while not ok.queue.empty():  # a healthy reader
                ok.queue.get_nowait()
        frames = [orjson.loads(stuck.queue.get_nowait()) for _ in range(stuck.queue.qsize())]
        assert frames[0]["type"] == "gap" and frames[0]["series"][0]["ts"][-1] <= 8
        assert stuck.coalesced >= 1 and stuck.dropped_frames >= 1 and hub.coalesced_frames >= 1
        assert ok.coalesced == 0
        # refill and stay stuck past the timeout (one tick a second for 16 s)
        for i in range(8, 24):
            hub.submit([Sample("h", i + 1, i, {"m": float(i)})])
            hub.tick(now=float(i))
            while not ok.queue.empty():
                ok.queue.get_nowait()
        assert stuck.kicked and "too slow" in stuck.kicked
        assert ok.kicked is None
        assert stuck.task.cancelled()
        assert hub.slow_disconnects == 1

    asyncio.run(scenario())


def test_stale_hosts_are_reported_with_their_age():
    store = SeriesStore(10**9, 1000, 100)
    hub = Hub(store, 0.1, lambda: {}, stale_after=10.0, clock_ms=lambda: 0, clock=lambda: 0.0)
    hub.submit([Sample("quiet", 1, 0, {"m": 1.0}), Sample("busy", 1, 0, {"m": 1.0})])
    hub.tick(now=100.0)
    hub.submit([Sample("busy", 2, 1, {"m": 1.0})])
    hub.tick(now=112.0)
    assert hub.status()["stale"] == {"quiet": 12.0}


def test_garbage_from_the_client_gets_an_error_frame_and_the_socket_stays(app):
    with serve_asgi(app) as base, connect(ws_url(base)) as ws:
        ws.send("}{ not json")
        assert recv(ws) == {"type": "error", "error": "not JSON"}
        ws.send(b"\x00\x01")
        assert recv(ws)["type"] == "error"
        ws.send('{"type":"ready"}')
        assert recv_until(ws, lambda f: f["type"] == "snapshot")


def test_healthz_counts_clients_and_metrics_endpoint_exports_prometheus_text(app):
    hub = app.state.hub
    with serve_asgi(app) as base:
        assert healthz(base + "/")["clients"] == 0
        with connect(ws_url(base)) as ws:
            wait_for(lambda: healthz(base + "/")["clients"] == 1, 5, "client to be counted")
            ws.send('{"type":"ready"}')
            hub.submit([Sample("h", now_ms() - 50, 0, {"m": 1.0})])
            recv_until(ws, lambda f: f["type"] == "data" and f["series"])
            with urllib.request.urlopen(base + "/metrics", timeout=5) as r:
                text = r.read().decode()
                assert r.headers["Content-Type"].startswith("text/plain")
        wait_for(lambda: healthz(base + "/")["clients"] == 0, 5, "client to be forgotten")
    assert "metrics_relay_clients 1.0" in text
    assert "metrics_relay_store_series 1.0" in text
    assert "metrics_relay_snapshots_total 1.0" in text
    assert 'metrics_relay_sample_latency_seconds_bucket{le="0.1"} 1.0' in text
    assert "metrics_relay_sample_latency_seconds_count 1.0" in text


def test_status_rides_every_second_even_when_data_flows_every_tick():
    store = SeriesStore(10**9, 10_000, 100)
    hub = Hub(store, 0.1, lambda: {"kafka": "connected"}, clock_ms=lambda: 0, clock=lambda: 0.0)
    client = _Client(0.0)
    hub.handle(client, ClientRequest("ready"))
    client.queue.get_nowait()
    with_status = 0
    for i in range(30):  # 3 s of ticks, each with data
        hub.submit([Sample("h", i + 1, i, {"m": 1.0})])
        hub.tick(now=0.1 * (i + 1))
        frame = orjson.loads(client.queue.get_nowait())
        with_status += "status" in frame
    assert with_status == 3


def test_ring_is_bounded_by_points_and_resume_beyond_it_gets_a_snapshot(monkeypatch):
    monkeypatch.setattr(hub_mod, "RING_POINTS", 100)
    store = SeriesStore(10**9, 10_000, 1000)
    hub = Hub(store, 0.1, lambda: {}, clock_ms=lambda: 0, clock=lambda: 0.0)
    for i in range(10):  # 10 ticks of 30 points
        hub.submit([Sample(f"h{j}", i + 1, i, {"m": 1.0}) for j in range(30)])
        hub.tick(now=0.1 * (i + 1))
    assert sum(len(b) for _, b in hub._ring) <= 100
    client = _Client(0.0)
    hub.handle(client, ClientRequest("resume", epoch=hub.epoch, seq=2))
    assert orjson.loads(client.queue.get_nowait())["type"] == "snapshot"  # ticks 3.. left the ring
    hub.handle(client, ClientRequest("resume", epoch=hub.epoch, seq=8))
    assert orjson.loads(client.queue.get_nowait())["type"] == "catchup"


def test_one_tick_takes_a_bounded_number_of_samples(monkeypatch):
    monkeypatch.setattr(hub_mod, "MAX_PER_TICK", 5)
    store = SeriesStore(10**9, 10_000, 1000)
    hub = Hub(store, 0.1, lambda: {}, clock_ms=lambda: 0, clock=lambda: 0.0)
    hub.submit([Sample("h", i + 1, i, {"m": 1.0}) for i in range(12)])
    hub.tick(now=0.1)
    assert store.point_count == 5
    hub.tick(now=0.2)
    hub.tick(now=0.3)
    assert store.point_count == 12


def test_samples_go_out_on_the_leading_edge_but_at_most_one_frame_per_interval():
    """A group whose last frame is old gets new samples at once (no wait for the next tick); right
    after that frame, further samples wait for the interval, and none is lost."""

    async def scenario():
        store = SeriesStore(10**9, 1000, 100)
        hub = Hub(store, 60.0, lambda: {"kafka": "connected"}, heartbeat_interval=600.0)
        client = _Client(0.0)
        hub.handle(client, ClientRequest("ready"))
        assert orjson.loads(client.queue.get_nowait())["type"] == "snapshot"
        runner = asyncio.create_task(hub.run())
        try:
            await asyncio.sleep(0)  # the first regular tick; the next one is 60 s away
            group = client.group
            group.last_sent_at -= 120  # its last frame is long past
            await asyncio.to_thread(hub.submit, [Sample("h", 1, 0, {"m": 1.0})])  # as the consumer thread
            frame = orjson.loads(await asyncio.wait_for(client.queue.get(), 30))
            assert (frame["type"], series_of(frame)) == ("data", {("h", "m"): [1]})
            assert hub.early_ticks == 1

            await asyncio.to_thread(hub.submit, [Sample("h", 2, 1, {"m": 2.0})])
            for _ in range(50):
                await asyncio.sleep(0)  # the wake-up is handled; the group must wait 60 s
            assert client.queue.empty() and hub.early_ticks == 1

            group.last_sent_at -= 120
            await asyncio.to_thread(hub.submit, [Sample("h", 3, 2, {"m": 3.0})])
            frame = orjson.loads(await asyncio.wait_for(client.queue.get(), 30))
            assert series_of(frame) == {("h", "m"): [2, 3]} and frame["prev"] < frame["seq"]
            assert hub.early_ticks == 2
        finally:
            runner.cancel()
            with pytest.raises(asyncio.CancelledError):
                await runner

    asyncio.run(scenario())


def test_a_due_group_is_not_sent_more_often_than_the_frame_interval():
    store = SeriesStore(10**9, 1000, 100)
    hub = Hub(store, 0.1, lambda: {}, heartbeat_interval=600.0, clock_ms=lambda: 0, clock=lambda: 0.0)
    client = _Client(0.0)
    hub.handle(client, ClientRequest("ready"))
    client.queue.get_nowait()
    sent = []
    for i in range(20):  # samples every 0.03 s, ticks on every arrival (as early ticks would)
        hub.submit([Sample("h", i + 1, i, {"m": float(i)})])
        sent.append(hub.tick(now=1.0 + i * 0.03))
    frames = [orjson.loads(client.queue.get_nowait()) for _ in range(client.queue.qsize())]
    assert sum(sent) == len(frames) == 5  # t = 1.0, 1.12, 1.24, 1.36, 1.48: never under 0.1 s apart
    assert [t for f in frames for s in f["series"] for t in s["ts"]] == list(range(1, 18))  # 18-20 wait


def test_clients_offering_deflate_share_one_compressed_frame(app):
    """Behind a real uvicorn: pages that negotiated permessage-deflate decode every frame, and a
    frame going to several of them is deflated once (DASH_WS_COMPRESSION=shared, the default)."""
    from dash_app import wsdeflate

    hub = app.state.hub
    with serve_asgi(app) as base, connect(ws_url(base)) as a, connect(ws_url(base)) as b:
        assert "permessage-deflate" in (a.response.headers.get("Sec-WebSocket-Extensions") or "")
        for ws in (a, b):
            ws.send('{"type":"ready"}')
            recv_until(ws, lambda f: f["type"] == "snapshot")
        reused = wsdeflate.CACHE.hits
        t0 = now_ms()
        hub.submit([Sample(f"h{i}", t0, 0, {"cpu.percent": float(i), "mem.used_percent": 50.0}) for i in range(40)])
        got = [recv_until(ws, lambda f: f["type"] == "data" and f["series"]) for ws in (a, b)]
        assert got[0] == got[1] and len(got[0]["series"]) == 80
        assert wsdeflate.CACHE.hits > reused


def test_pages_asking_together_share_one_snapshot_until_the_next_tick():
    store = SeriesStore(10**9, 1000, 100)
    hub = Hub(store, 0.1, lambda: {}, clock_ms=lambda: 0, clock=lambda: 0.0)
    hub.submit([Sample("h", 1, 0, {"m": 1.0})])
    hub.tick(now=0.1)
    clients = [_Client(0.0) for _ in range(3)]
    for c in clients:
        hub.handle(c, ClientRequest("ready"))
    frames = [c.queue.get_nowait() for c in clients]
    assert frames[0] is frames[1] is frames[2]
    assert (hub.snapshots_sent, hub.snapshots_reused) == (3, 2)
    other = _Client(0.0)
    hub.handle(other, ClientRequest("subscribe", Subscription(hosts=("x*",))))
    assert orjson.loads(other.queue.get_nowait())["series"] == []  # another subscription: its own
    hub.submit([Sample("h", 2, 1, {"m": 2.0})])
    hub.tick(now=0.2)
    for c in clients:
        c.queue.get_nowait()  # the data frame
    late = _Client(0.0)
    hub.handle(late, ClientRequest("ready"))
    snap = orjson.loads(late.queue.get_nowait())
    assert snap["seq"] == hub.seq and snap["series"][0]["ts"] == [1, 2]  # a tick later: encoded anew


def test_the_frame_budget_widens_the_gap_between_frames_as_clients_join():
    store = SeriesStore(10**9, 1000, 100)
    hub = Hub(store, 0.05, lambda: {}, heartbeat_interval=600.0, clock_ms=lambda: 0, clock=lambda: 0.0,
              frame_budget=40)
    clients = [_Client(0.0) for _ in range(4)]
    for c in clients:
        hub.handle(c, ClientRequest("ready"))
        c.queue.get_nowait()  # snapshots
    assert hub.budget_gap == 0.1  # 4 clients at 40 frames/s in all: 10 frames/s each
    for i in range(20):  # a sample every 0.05 s for 1 s, ticking on each
        hub.submit([Sample("h", i + 1, i, {"m": float(i)})])
        hub.tick(now=1.0 + i * 0.05)
    frames = [orjson.loads(clients[0].queue.get_nowait()) for _ in range(clients[0].queue.qsize())]
    assert len(frames) == 10, "every other tick: 0.1 s apart, not 0.05"
    assert [t for f in frames for s in f["series"] for t in s["ts"]] == list(range(1, 20))  # 20 waits
    for c in clients[1:]:
        hub._leave(c)
    assert hub.budget_gap == 0.025  # one client left: the frame interval (0.05 s) binds again
    got = []
    for i in range(20, 30):
        hub.submit([Sample("h", i + 1, i, {"m": float(i)})])
        got.append(hub.tick(now=2.0 + (i - 20) * 0.05))
    assert sum(got) == 10, "one frame per 0.05 s tick"


class FakeSocket:
    """Stands in for uvicorn's send: takes frames at once while ``writable`` is set, else waits (a
    full buffer), like websockets-sansio's ``await self.writable.wait()``."""

    def __init__(self):
        self.writable = asyncio.Event()
        self.writable.set()
        self.frames = []
        self.waiting = 0
        self.cancelled = 0
        self.fail = None

    async def send(self, frame):
        self.waiting += 1
        try:
            await self.writable.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.waiting -= 1
        if self.fail is not None:
            raise self.fail
        self.frames.append(orjson.loads(frame))


def hub_with_socket_client(**kw):
    store = SeriesStore(10**9, 1000, 100)
    now = [0.0]
    hub = Hub(store, 0.1, lambda: {}, heartbeat_interval=600.0, clock_ms=lambda: 0, clock=lambda: now[0], **kw)
    sock = FakeSocket()
    client = _Client(0.0, sock.send)
    return hub, client, sock, now


def tick_with_sample(hub, now, i):
    now[0] = 0.1 * (i + 1)
    hub.submit([Sample("h", i + 1, i, {"m": float(i)})])
    return hub.tick(now=now[0])


def test_a_socket_with_room_takes_each_frame_at_once_without_a_queue_or_task():
    async def scenario():
        hub, client, sock, now = hub_with_socket_client()
        hub.handle(client, ClientRequest("ready"))
        hub._flush(client)  # the snapshot goes through the drain task (serve() does this)
        await asyncio.sleep(0)
        assert [f["type"] for f in sock.frames] == ["snapshot"] and client.drain is None
        for i in range(5):
            assert tick_with_sample(hub, now, i) == 1
            # written during the tick itself: nothing queued, no task started
            assert len(sock.frames) == i + 2 and client.queue.empty() and client.drain is None
        assert [f["seq"] for f in sock.frames[1:]] == list(range(1, 6))
        assert [f["prev"] for f in sock.frames[2:]] == list(range(1, 5))
        assert hub.frames_sent == 5 and client.last_progress == 0.5

    asyncio.run(scenario())


def test_frames_queue_in_order_behind_a_full_socket_then_go_straight_out_again():
    async def scenario():
        hub, client, sock, now = hub_with_socket_client()
        hub.handle(client, ClientRequest("ready"))
        client.queue.get_nowait()
        sock.writable.clear()  # the page stops reading: the first frame waits in the socket's send
        tick_with_sample(hub, now, 0)
        assert sock.waiting == 1 and client.busy and client.drain is not None and client.queue.empty()
        for i in range(1, 4):
            tick_with_sample(hub, now, i)
        assert client.queue.qsize() == 3 and sock.frames == []
        sock.writable.set()
        await client.drain
        assert [f["seq"] for f in sock.frames] == [1, 2, 3, 4]
        assert [t for f in sock.frames for s in f["series"] for t in s["ts"]] == [1, 2, 3, 4]
        assert client.drain is None and not client.busy and client.queue.empty()
        assert client.last_progress == 0.4
        tick_with_sample(hub, now, 4)
        assert sock.frames[-1]["seq"] == 5 and client.drain is None  # direct again
        assert hub.frames_sent == 5 and client.coalesced == 0

    asyncio.run(scenario())


def test_a_stuck_socket_is_coalesced_then_kicked_and_its_pending_send_cancelled(monkeypatch):
    monkeypatch.setattr(hub_mod, "QUEUE_FRAMES", 4)

    async def scenario():
        hub, client, sock, now = hub_with_socket_client(stuck_timeout=5.0)
        client.task = asyncio.get_running_loop().create_future()  # stands in for the serve task
        hub.handle(client, ClientRequest("ready"))
        client.queue.get_nowait()
        sock.writable.clear()
        for i in range(8):
            tick_with_sample(hub, now, i)
        await asyncio.sleep(0)
        assert client.coalesced >= 1 and hub.gap_frames >= 1
        assert orjson.loads(client.queue.get_nowait())["type"] == "gap"
        drain = client.drain
        assert drain is not None and sock.waiting == 1
        for i in range(8, 70):  # stays stuck past the timeout
            tick_with_sample(hub, now, i)
        assert client.kicked and "too slow" in client.kicked and client.task.cancelled()
        with pytest.raises(asyncio.CancelledError):
            await drain
        assert sock.cancelled == 1 and sock.frames == [] and hub.slow_disconnects == 1

    asyncio.run(scenario())


@pytest.mark.parametrize("error", [RuntimeError("closed"), OSError("reset"), ValueError("bug")])
def test_a_socket_that_refuses_a_frame_gets_no_more_and_the_tick_goes_on(error):
    async def scenario():
        hub, client, sock, now = hub_with_socket_client()
        other = _Client(0.0)
        for c in (client, other):
            hub.handle(c, ClientRequest("ready"))
            c.queue.get_nowait()
        sock.fail = error
        assert tick_with_sample(hub, now, 0) == 2
        assert client.broken and other.queue.qsize() == 1
        assert tick_with_sample(hub, now, 1) == 1  # only the other one
        assert client.queue.empty() and client.drain is None

    asyncio.run(scenario())


def test_a_send_that_waited_finishes_with_the_sockets_result():
    """The hand-started send continues in the drain task with what the awaited future gives it."""
    async def scenario():
        fut = asyncio.get_running_loop().create_future()
        got = []

        async def send():
            got.append(await fut)
            return "done"

        coro = send()
        waiting_on = coro.send(None)
        assert waiting_on is fut
        task = asyncio.ensure_future(hub_mod._finish(coro, waiting_on))
        await asyncio.sleep(0)
        fut.set_result(42)
        await task
        assert got == [42]

    asyncio.run(scenario())
