"""``create_app``: one ASGI application serving the Dash page, ``<prefix>ws`` and ``<prefix>healthz``.

Dash runs on its default Flask server, mounted into Starlette through a2wsgi, so the page, the
WebSocket and the health check share one port and one prefix under uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import flask
from a2wsgi import WSGIMiddleware
from dash import Dash
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket

from .config import DashboardConfig
from .consumer import MetricsConsumer
from .hub import Hub
from .layout import build_layout, register_callbacks
from .store import SeriesStore
from .telemetry import CONTENT_TYPE, Telemetry

log = logging.getLogger(__name__)

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"


def create_dash(config: DashboardConfig, server: flask.Flask | None = None) -> Dash:
    dash_app = Dash(
        __name__,
        server=server or flask.Flask(__name__),  # type: ignore[arg-type]
        requests_pathname_prefix=config.url_prefix,
        routes_pathname_prefix=config.url_prefix,
        assets_folder=str(ASSETS_DIR),
        title="Live system metrics",
        update_title=None,  # type: ignore[arg-type]
        serve_locally=True,
    )
    dash_app.layout = build_layout(config.topic, config.bootstrap_servers)
    register_callbacks(dash_app)
    return dash_app


def create_app(config: DashboardConfig, *, start_consumer: bool = True) -> Starlette:
    """Build the ASGI app. Nothing touches the network until the app's lifespan starts."""
    store = SeriesStore(
        window_ms=config.history_seconds * 1000,
        max_points=config.max_points,
        max_series=config.max_series,
    )
    hub_ref: dict[str, Hub] = {}
    consumer = MetricsConsumer(
        config.bootstrap_servers,
        config.topic,
        # Replay what the longest view shows (24 h of 1-minute buckets), not only the raw window.
        history_ms=store.longest_window_ms,
        on_samples=lambda samples: hub_ref["hub"].submit(samples),
        kafka_overrides=dict(config.kafka),
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
        store, config.frame_interval, kafka_status, stale_after=config.stale_seconds, on_sample=observe_latency
    )
    telemetry.attach(consumer, store, hub)
    dash_app = create_dash(config)

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

    async def ws_endpoint(websocket: WebSocket) -> None:
        await hub.serve(websocket)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if start_consumer:
            consumer.start()
        ticker = asyncio.create_task(hub.run())
        try:
            yield
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            await asyncio.to_thread(consumer.stop)

    prefix = config.url_prefix
    app = Starlette(
        routes=[
            Route(prefix + "healthz", healthz),
            Route(prefix + "metrics", metrics),
            WebSocketRoute(prefix + "ws", ws_endpoint),
            Mount("", app=WSGIMiddleware(dash_app.server)),  # type: ignore[arg-type]
        ],
        lifespan=lifespan,
    )
    app.state.hub = hub
    app.state.consumer = consumer
    app.state.store = store
    app.state.dash = dash_app
    return app
