"""The usual Dash way to show live data, as the peer for bench_push_vs_poll: poll once a second.

A plain Dash app: `dcc.Interval(interval=1000)` fires a server callback that returns the points that
arrived since the page's cursor (kept in a `dcc.Store`) as `extendData` for one `dcc.Graph`, or the
whole figure when the page is new, too far behind, or a series appeared. The data comes from the same
Kafka topic through its own consumer thread (assign all partitions, seek now − window, the same
librdkafka settings as the relay) into a per-series window. It is served the way our dashboard serves
its Dash page (Flask under a2wsgi in uvicorn), so only the delivery model differs.

This is the charitable version of the pattern: only new points travel (extendData), not the whole
figure every second, and the JSON encoder is Dash's own (orjson when installed, as here).

`PollClient` drives it like the Dash renderer in a browser does: it loads the page once (index,
`_dash-layout`, `_dash-dependencies`), then POSTs `_dash-update-component` with the body dash 4.4.1's
renderer builds (`output`, `outputs`, `inputs`, `changedPropIds`, `parsedChangedPropsIds`, `state`;
`?endId=` from the page's `_dash-config`), one request at a time per page, ticks on its own phase.

    python -m bench.poll_peer --port P --bootstrap-servers B --topic T
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import orjson

MAX_POINTS = 3600
INTERVAL_MS = 1000


# --- the server -------------------------------------------------------------------------------------


class PeerStore:
    """Per-series window plus one append log numbered by arrival (the cursor pages keep)."""

    def __init__(self, window_ms: int) -> None:
        self.window_ms = window_ms
        self.lock = threading.Lock()
        self.keys: list[tuple[str, str]] = []
        self.index: dict[tuple[str, str], int] = {}
        self.series: list[tuple[deque[int], deque[float]]] = []
        self.log: deque[tuple[int, int, int, float]] = deque()  # (n, series index, ts, y)
        self.n = 0
        self.consumed = 0

    def add(self, host: str, ts: int, metrics: dict[str, Any]) -> None:
        with self.lock:
            for metric, y in metrics.items():
                if isinstance(y, bool) or not isinstance(y, int | float):
                    continue
                key = (host, metric)
                i = self.index.get(key)
                if i is None:
                    i = self.index[key] = len(self.keys)
                    self.keys.append(key)
                    self.series.append((deque(), deque()))
                ts_q, y_q = self.series[i]
                if ts_q and ts <= ts_q[-1]:
                    continue
                ts_q.append(ts)
                y_q.append(float(y))
                self.n += 1
                self.log.append((self.n, i, ts, float(y)))

    def prune(self, now_ms: int) -> None:
        cutoff = now_ms - self.window_ms
        with self.lock:
            for ts_q, y_q in self.series:
                while ts_q and ts_q[0] < cutoff:
                    ts_q.popleft()
                    y_q.popleft()
            while self.log and self.log[0][2] < cutoff:
                self.log.popleft()

    def figure(self) -> tuple[dict[str, Any], int, int]:
        with self.lock:
            traces = [
                {"type": "scatter", "mode": "lines", "name": f"{h} · {m}", "x": list(ts), "y": list(y)}
                for (h, m), (ts, y) in zip(self.keys, self.series, strict=True)
            ]
            n, count = self.n, len(self.keys)
        layout = {"xaxis": {"type": "date"}, "uirevision": "keep", "margin": {"l": 50, "r": 20, "t": 20, "b": 40}}
        return {"data": traces, "layout": layout}, n, count

    def since(self, cursor_n: int) -> tuple[list[Any], int] | None:
        """extendData for points numbered after cursor_n, or None when the log no longer has them."""
        with self.lock:
            if self.log and cursor_n + 1 < self.log[0][0]:
                return None
            start = cursor_n + 1 - self.log[0][0] if self.log else 0
            xs: dict[int, list[int]] = {}
            ys: dict[int, list[float]] = {}
            for k in range(max(0, start), len(self.log)):
                _n, i, ts, y = self.log[k]
                xs.setdefault(i, []).append(ts)
                ys.setdefault(i, []).append(y)
            n = self.n
        order = sorted(xs)
        extend = [{"x": [xs[i] for i in order], "y": [ys[i] for i in order]}, order, MAX_POINTS]
        return extend, n


def run_consumer(store: PeerStore, bootstrap: str, topic: str, stop: threading.Event) -> None:
    from confluent_kafka import OFFSET_END, Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"poll-peer-{uuid.uuid4().hex[:8]}",
                         "enable.auto.commit": False, "fetch.wait.max.ms": 20})
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        start = int(time.time() * 1000) - store.window_ms
        offsets = consumer.offsets_for_times([TopicPartition(topic, p, start) for p in parts], timeout=10)
        for tp in offsets:
            if tp.offset < 0:
                tp.offset = OFFSET_END
        consumer.assign(offsets)
        next_prune = 0.0
        while not stop.is_set():
            for m in consumer.consume(500, 0.05):
                if m.error() is not None:
                    continue
                store.consumed += 1
                try:
                    doc = orjson.loads(m.value() or b"null")
                    if isinstance(doc, dict) and doc.get("v") == 1 and isinstance(doc.get("metrics"), dict):
                        store.add(str(doc["host"]), int(doc["ts"]), doc["metrics"])
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                    continue
            if time.monotonic() >= next_prune:
                next_prune = time.monotonic() + 5
                store.prune(int(time.time() * 1000))
    finally:
        consumer.close()


def create_peer(store: PeerStore) -> Any:
    import flask
    from dash import Dash, Input, Output, State, dcc, html, no_update

    app = Dash(__name__, server=flask.Flask(__name__),  # type: ignore[arg-type]
               title="Live system metrics (polling)", update_title=None,  # type: ignore[arg-type]
               serve_locally=True)
    app.layout = html.Div([
        html.H1("Live system metrics (polling)"),
        dcc.Graph(id="graph", figure={"data": [], "layout": {"xaxis": {"type": "date"}}}),
        dcc.Interval(id="tick", interval=INTERVAL_MS),
        dcc.Store(id="cursor"),
    ])

    @app.callback(Output("graph", "extendData"), Output("graph", "figure"), Output("cursor", "data"),
                  Input("tick", "n_intervals"), State("cursor", "data"))
    def update(_n: int | None, cursor: dict[str, int] | None) -> tuple[Any, Any, Any]:
        if cursor is not None and cursor.get("traces") == len(store.keys):
            found = store.since(int(cursor.get("n", 0)))
            if found is not None:
                extend, n = found
                if not extend[1]:
                    return no_update, no_update, no_update
                return extend, no_update, {"n": n, "traces": cursor["traces"]}
        figure, n, count = store.figure()
        return no_update, figure, {"n": n, "traces": count}

    @app.server.route("/healthz")
    def healthz() -> Any:
        return flask.jsonify({"consumed": store.consumed, "points": store.n, "series": len(store.keys)})

    return app


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Polling Dash peer (dcc.Interval 1 s + extendData).")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--bootstrap-servers", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--history-seconds", type=int, default=900)
    p.add_argument("--server", choices=("uvicorn", "flask"), default="uvicorn",
                   help="uvicorn + a2wsgi (as dash_app serves its page) or Dash's own app.run (werkzeug)")
    args = p.parse_args(argv)
    store = PeerStore(args.history_seconds * 1000)
    stop = threading.Event()
    consumer = threading.Thread(target=run_consumer, args=(store, args.bootstrap_servers, args.topic, stop),
                                daemon=True)
    consumer.start()
    app = create_peer(store)
    try:
        if args.server == "flask":
            app.run(host="127.0.0.1", port=args.port, debug=False, threaded=True)
        else:
            import uvicorn
            from a2wsgi import WSGIMiddleware

            uvicorn.run(WSGIMiddleware(app.server), host="127.0.0.1", port=args.port, log_level="warning")
    finally:
        stop.set()
        consumer.join(5)
    return 0


# --- the client (a browser's Dash renderer, as far as the server can tell) ---------------------------

BROWSER_HEADERS = (
    "Accept: application/json\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Connection: keep-alive\r\n"
    "Content-Type: application/json\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Safari/537.36\r\n"
)


class PollClient:
    """One page of the polling peer; same recording interface as bench.common.WsClient."""

    def __init__(self, url: str, rec: Any, detailed: bool) -> None:
        parts = urlsplit(url)
        self.host, self.port, self.base = parts.hostname, parts.port, parts.path or "/"
        self.rec, self.detailed = rec, detailed
        self.newest: dict[int, int] = {}  # trace index -> newest ts drawn
        self.cursor: Any = None
        self.waiting_snapshot = True
        self.closed: str | None = None
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.wire_in = self.wire_out = 0
        self.reset()

    def reset(self) -> None:
        self.frames = self.data_frames = self.snapshots = 0
        self.points_in_window = 0
        self.msg_bytes = 0
        self.wire_in0, self.wire_out0 = self.wire_in, self.wire_out

    async def _request(self, method: str, path: str, body: bytes = b"") -> bytes:
        assert self.reader is not None and self.writer is not None
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{BROWSER_HEADERS}"
                f"Origin: http://{self.host}:{self.port}\r\nReferer: http://{self.host}:{self.port}{self.base}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        self.writer.write(head + body)
        self.wire_out += len(head) + len(body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        self.wire_in += len(raw)
        status = raw.split(b"\r\n", 1)[0]
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(b":") for line in raw.split(b"\r\n")[1:] if line)}
        if b"chunked" in headers.get(b"transfer-encoding", b""):
            data = bytearray()
            while True:
                size_line = await self.reader.readuntil(b"\r\n")
                size = int(size_line.split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                self.wire_in += len(size_line) + len(chunk)
                if size == 0:
                    break
                data += chunk[:-2]
            payload = bytes(data)
        else:
            payload = await self.reader.readexactly(int(headers.get(b"content-length", b"0")))
            self.wire_in += len(payload)
        if b" 200 " not in status + b" " and b" 204 " not in status + b" ":
            raise RuntimeError(f"{method} {path}: {status.decode(errors='replace')}")
        return payload

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        index = (await self._request("GET", self.base)).decode()
        config = orjson.loads(re.search(r'id="_dash-config"[^>]*>(.*?)</script>', index, re.S).group(1))  # type: ignore[union-attr]
        self.end_id = config.get("end_id")
        await self._request("GET", self.base + "_dash-layout")
        deps = orjson.loads(await self._request("GET", self.base + "_dash-dependencies"))
        dep = next(d for d in deps if "extendData" in d["output"])
        self.output = dep["output"]
        self.outputs = [{"id": o.split(".")[0], "property": o.split(".")[1]}
                        for o in self.output.strip(".").split("...")]
        self.path = self.base + "_dash-update-component" + (f"?endId={self.end_id}" if self.end_id else "")
        await self._poll(0, time.time() * 1000)  # the initial call on page load
        self.waiting_snapshot = False

    async def _poll(self, n: int, _due: float) -> None:
        body = orjson.dumps({
            "output": self.output,
            "outputs": self.outputs,
            "inputs": [{"id": "tick", "property": "n_intervals", "value": n}],
            "changedPropIds": ["tick.n_intervals"],
            "parsedChangedPropsIds": ["tick.n_intervals"],
            "state": [{"id": "cursor", "property": "data", "value": self.cursor}],
        })
        payload = await self._request("POST", self.path, body)
        now = time.time() * 1000
        if self.rec.on:
            self.frames += 1
            self.msg_bytes += len(payload)
        if not payload:
            return
        response = orjson.loads(payload).get("response", {})
        cursor = response.get("cursor", {}).get("data")
        if cursor is not None:
            self.cursor = cursor
        graph = response.get("graph", {})
        if "figure" in graph:
            if self.rec.on:
                self.snapshots += 1
            for i, trace in enumerate(graph["figure"]["data"]):
                if trace["x"]:
                    self.newest[i] = trace["x"][-1]
        extend = graph.get("extendData")
        if extend:
            if self.rec.on:
                self.data_frames += 1
            self._points(extend, now)

    def _points(self, extend: list[Any], now: float) -> None:
        rec = self.rec
        update, indices = extend[0], extend[1]
        newest_in_frame = 0
        for xs, i in zip(update["x"], indices, strict=True):
            last = self.newest.get(i, 0)
            fresh = [t for t in xs if t > last]
            if not fresh:
                continue
            self.newest[i] = fresh[-1]
            newest_in_frame = max(newest_in_frame, fresh[-1])
            if rec.on and self.detailed:
                for t in fresh:
                    rec.latency.add(now - t)
                    if rec.t_a <= t <= rec.t_b:
                        self.points_in_window += 1
        if rec.on and self.detailed and newest_in_frame:
            rec.fresh.add(now - newest_in_frame)

    async def run(self) -> None:
        """Tick every second on this page's own phase; one request in flight (a tick that comes while
        the previous request is still out is skipped, as the renderer would queue and merge it)."""
        t0 = time.time() + random.random() * INTERVAL_MS / 1000
        n = 1
        try:
            while True:
                due = t0 + (n - 1) * INTERVAL_MS / 1000
                delay = due - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                await self._poll(n, due * 1000)
                n = max(n + 1, int((time.time() - t0) * 1000 / INTERVAL_MS) + 1)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.closed = f"{type(exc).__name__}: {exc}"[:200]

    def result(self) -> dict[str, Any]:
        return {
            "frames": self.frames, "data_frames": self.data_frames, "snapshots": self.snapshots,
            "gaps": 0, "gap_frames": 0, "points_in_window": self.points_in_window,
            "wire_bytes": self.wire_in - self.wire_in0, "wire_out": self.wire_out - self.wire_out0,
            "msg_bytes": self.msg_bytes, "seqs": [], "closed": self.closed, "detailed": self.detailed,
        }

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.writer.wait_closed(), 2)


if __name__ == "__main__":
    raise SystemExit(main())
