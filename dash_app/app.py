"""``create_app``: one ASGI application serving the Dash page, ``<prefix>ws``, ``<prefix>healthz`` and
``<prefix>metrics``, behind :class:`dash_app.security.SecurityMiddleware`.

Dash runs on a Flask server (its own, or the portal's with ``server=``) mounted into Starlette through
a2wsgi, so the page, the WebSocket and the health check share one port and one prefix under uvicorn.
Three ways to use it (docs/embedding.md, examples/):

- standalone: ``python -m dash_app`` (``create_app(config)`` under uvicorn);
- inside a portal: an ASGI portal mounts ``create_app(url_prefix="/tools/metrics/")`` at
  ``/tools/metrics``; a Flask portal passes ``server=portal`` and serves the returned ASGI app (its
  own routes included) with uvicorn, because a WSGI server cannot carry the WebSocket;
- behind a reverse proxy that keeps the prefix (``url_prefix``) or strips it (``public_url_prefix``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import re
import time
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import flask
from a2wsgi import WSGIMiddleware
from dash import Dash
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from .config import DashboardConfig, load, with_overrides
from .consumer import MetricsConsumer
from .hub import Hub
from .layout import build_layout, register_callbacks
from .protocol import ClientMessageError, parse_subscription
from .security import Authorize, Policy, SecurityMiddleware
from .staticcache import StaticCache
from .store import SeriesStore
from .telemetry import CONTENT_TYPE, Telemetry
from .wsdeflate import install as install_ws_compression

log = logging.getLogger(__name__)

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"


# Dash's first script is @babel/polyfill 7 (core-js 2), for browsers without ES2015. Every browser that
# runs React 18 has those natively, and evaluating it took ~100 ms of the page's first 300 ms (CDP
# trace, bench/README.md, Page). What Dash's bundles do need from it is the `regeneratorRuntime`
# global of their lazy-component loaders: assets/vendor/regenerator-runtime.js provides it.
_POLYFILL_SCRIPT = re.compile(r'<script src="[^"]*/polyfill@[^"]*"></script>\s*')


def without_polyfill(scripts: str) -> str:
    """Dash's ``{%scripts%}`` HTML without its @babel/polyfill tag (unchanged if it has none)."""
    return _POLYFILL_SCRIPT.sub("", scripts)


class MetricsDash(Dash):
    """Dash with the index page this product serves (Dash's documented ``interpolate_index`` hook)."""

    def interpolate_index(self, metas: str = "", title: str = "", css: str = "", config: str = "",
                          scripts: str = "", app_entry: str = "", favicon: str = "", renderer: str = "") -> str:
        return str(super().interpolate_index(metas=metas, title=title, css=css, config=config,
                                             scripts=without_polyfill(scripts), app_entry=app_entry,
                                             favicon=favicon, renderer=renderer))


def create_dash(config: DashboardConfig, server: flask.Flask | None = None) -> Dash:
    dash_app = MetricsDash(
        __name__,
        server=server or flask.Flask(__name__),  # type: ignore[arg-type]
        # What the page asks for (a proxy may add a prefix) vs what this server routes.
        requests_pathname_prefix=config.browser_prefix,
        routes_pathname_prefix=config.url_prefix,
        assets_folder=str(ASSETS_DIR),
        title="Live system metrics",
        update_title=None,  # type: ignore[arg-type]
        serve_locally=True,
    )
    dash_app.layout = build_layout(config.topic, config.bootstrap_servers)
    register_callbacks(dash_app)
    return dash_app


def create_app(
    config: DashboardConfig | None = None,
    *,
    server: flask.Flask | None = None,
    authorize: Authorize | None = None,
    start_consumer: bool = True,
    **settings: Any,
) -> Starlette:
    """Build the ASGI app. Nothing touches the network until the app's lifespan starts.

    ``config``: the settings; without it they come from the environment, as for ``python -m dash_app``.
    ``settings``: any setting by name (``url_prefix="/tools/metrics/"``), parsed and checked like its
    environment variable. ``server``: a portal's Flask app to register the Dash routes on (its other
    routes keep working through the returned app). ``authorize``: the portal's ``(connection) -> bool``
    (sync or async), asked for every request under the prefix, the WebSocket handshake included.
    """
    if config is None:
        config, _ = load([], os.environ)
    if settings:
        config = with_overrides(config, settings)
    policy = Policy.from_config(config, authorize)
    if not _is_loopback(config.host) and not policy.auth_enabled:
        log.warning(
            "SECURITY WARNING: serving on %s, which is not a loopback address, WITHOUT authentication: "
            "anyone who can reach this port sees every host's metrics. Set DASH_AUTH_TOKEN, DASH_BASIC_AUTH "
            "or DASH_TRUSTED_PROXIES (docs/security.md), or bind to 127.0.0.1.", config.host,
        )  # fmt: skip
    store = SeriesStore(
        window_ms=config.history_seconds * 1000,
        max_points=config.max_points,
        max_series=config.max_series,
    )
    hub_ref: dict[str, Hub] = {}
    consumer = MetricsConsumer(
        config.bootstrap_servers,
        config.topics,
        # Replay what the longest view shows (24 h of 1-minute buckets), not only the raw window.
        history_ms=store.longest_window_ms,
        on_samples=lambda samples: hub_ref["hub"].submit(samples),
        kafka_overrides=dict(config.kafka),
        format_options=config.format_options(),
    )
    started = time.time()

    def kafka_status() -> dict[str, Any]:
        return {
            "kafka": consumer.state,
            "backfill": round(consumer.backfill_progress, 3),
            "consumed": consumer.consumed,
            "bad": consumer.bad,
            "topic": config.topic,
        }

    telemetry = Telemetry()

    def observe_latency(sample: Any, now_ms: int) -> None:
        telemetry.latency.observe(max(0.0, (now_ms - sample.ts) / 1000))

    hub = hub_ref["hub"] = Hub(
        store, config.frame_interval, kafka_status, stale_after=config.stale_seconds,
        stuck_timeout=config.client_timeout, on_sample=observe_latency, frame_budget=config.frame_budget
    )
    telemetry.attach(consumer, store, hub)
    # One deflate per frame, not per client (DASH_WS_COMPRESSION; negotiation and frames unchanged).
    install_ws_compression(config.ws_compression)  # type: ignore[arg-type]
    dash_app = create_dash(config, server)

    async def healthz(request: Request) -> JSONResponse:
        body = {
            "status": "ok" if consumer.state == "connected" else "degraded",
            "kafka": {
                "state": consumer.state,
                "detail": consumer.detail,
                "bootstrap_servers": config.bootstrap_servers,
                "topic": config.topic,
                "partitions": consumer.assigned_partitions,
                "lag": sum(consumer.lag.values()),
            },
            "backfill_progress": round(consumer.backfill_progress, 3),
            "messages_consumed": consumer.consumed,
            "bad_messages": consumer.bad,
            "bad_messages_by_reason": dict(consumer.bad_by_reason),
            "skipped_metrics": consumer.skipped_metrics,
            "records_by_format": dict(consumer.decoder.formats),
            "dropped_points_by_reason": dict(consumer.decoder.dropped),
            "clients": hub.client_count,
            "series": store.series_count,
            "points": store.point_count,
            "duplicate_points": store.duplicate_points,
            "frames_sent": hub.frames_sent,
            "uptime_s": round(time.time() - started, 1),
        }
        return JSONResponse(body)

    async def metrics(request: Request) -> Response:
        return Response(telemetry.render(), media_type=CONTENT_TYPE)

    async def snapshot(request: Request) -> Response:
        # A fresh page fetches its first snapshot here from its first script, so the relay builds it
        # while Dash still loads; the socket, opened once Dash's layout is up, goes on from it.
        try:
            sub = parse_subscription(request.query_params.get("sub", ""))
        except ClientMessageError as err:
            return JSONResponse({"error": str(err)}, status_code=400)
        text = hub.snapshot(sub)  # on the loop: the store is the loop's
        # gzip in a thread (zlib lets go of the GIL): Dash's layout, asked for meanwhile, waits less
        body, headers = await asyncio.to_thread(snapshot_body, text, request.headers.get("accept-encoding", ""))
        return Response(body, media_type="application/json", headers=headers)

    async def ws_endpoint(websocket: WebSocket) -> None:
        await hub.serve(websocket)

    runtime = _Runtime(consumer if start_consumer else None, hub)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    prefix = config.url_prefix
    app = Starlette(
        routes=[
            Route(prefix + "healthz", healthz),
            Route(prefix + "metrics", metrics),
            Route(prefix + "snapshot", snapshot),
            WebSocketRoute(prefix + "ws", ws_endpoint),
            Mount("", app=StaticCache(WSGIMiddleware(dash_app.server), prefix)),  # type: ignore[arg-type]
        ],
        middleware=[
            Middleware(_Mounted, prefix=prefix, runtime=runtime),
            Middleware(SecurityMiddleware, policy=policy),
        ],
        lifespan=lifespan,
    )
    app.state.hub = hub
    app.state.consumer = consumer
    app.state.store = store
    app.state.dash = dash_app
    app.state.config = config
    app.state.policy = policy
    return app


def snapshot_body(text: str, accept_encoding: str) -> tuple[bytes, dict[str, str]]:
    """A snapshot frame's HTTP body and headers: gzip level 1 when the client takes it (as the
    socket's deflate of large messages: half the CPU of the default level for ~9 % more bytes),
    never cached."""
    body = text.encode()
    headers = {"Cache-Control": "no-store", "Vary": "Accept-Encoding"}
    if "gzip" in accept_encoding.lower():
        packer = zlib.compressobj(1, zlib.DEFLATED, 31)  # wbits 31: a gzip member
        body = packer.compress(body) + packer.flush()
        headers["Content-Encoding"] = "gzip"
    return body, headers


def _is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


class _Runtime:
    """The consumer thread and the hub's ticker: started by the lifespan, or by the first request when
    a portal mounted the app without running its lifespan (Starlette does not run a mounted app's)."""

    def __init__(self, consumer: MetricsConsumer | None, hub: Hub) -> None:
        self.consumer = consumer
        self.hub = hub
        self.ticker: asyncio.Task[None] | None = None

    @property
    def started(self) -> bool:
        return self.ticker is not None

    def start(self) -> None:
        if self.ticker is not None:
            return
        if self.consumer is not None:
            self.consumer.start()
        self.ticker = asyncio.create_task(self.hub.run())

    async def stop(self) -> None:
        ticker, self.ticker = self.ticker, None
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        if self.consumer is not None:
            await asyncio.to_thread(self.consumer.stop)


class _Mounted:
    """Lets the app run mounted under a prefix by a portal (``Mount("/tools/metrics", app)``).

    The routes and Dash's Flask routes are registered with the full ``url_prefix``, so the mount's
    ``root_path`` is folded back into the path. Also starts the runtime on first use if no lifespan ran.
    """

    def __init__(self, app: ASGIApp, prefix: str, runtime: _Runtime) -> None:
        self.app = app
        self.prefix = prefix
        self.runtime = runtime
        self._warned: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            if not self.runtime.started:
                self._warn_once("lifespan", "the dashboard's lifespan did not run (a mounted app?): starting "
                                "its Kafka consumer on first use; run it from the portal's lifespan for a "
                                "clean shutdown (docs/embedding.md)")
                self.runtime.start()
            root = scope.get("root_path", "")
            if root:
                scope = {**scope, "root_path": ""}
                if not scope["path"].startswith(root):  # servers that give the path below root_path
                    scope["path"] = root + scope["path"]
                    scope.pop("raw_path", None)
                if not scope["path"].startswith(self.prefix) and scope["path"] != self.prefix.rstrip("/"):
                    self._warn_once(root, f"mounted at {root!r} but url_prefix is {self.prefix!r}: "
                                    "mount the dashboard at its url_prefix")
        await self.app(scope, receive, send)

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message)
