"""Embedding in real Chromium: the chart gets points under a prefix in an ASGI and a Flask portal,
through nginx (prefix kept and stripped), inside an iframe of a page on another origin when
frame-ancestors allows it (and not when it does not), and hostile names from Kafka stay text."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import flask
import orjson
import pytest
from confluent_kafka import Producer
from playwright.sync_api import Error as PlaywrightError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route

from dash_app.app import create_app
from dash_app.config import DashboardConfig
from tests.integration.test_nginx import nginx
from tests.support import serve_asgi, wait_for

pytestmark = pytest.mark.browser

PREFIX = "/tools/metrics/"
CHART_POINTS = """() => Object.values(Chart.instances).flatMap(c => c.data.datasets.map(d => ({
    label: d.label, xs: (d._data || d.data).map(p => p.x)})))"""
CLIENTS = "() => fetch(document.location.pathname.replace(/[^/]*$/, '') + 'healthz').then(r => r.json())"


class Feed:
    """Writes v1 samples for some hosts to the topic every 0.2 s until closed (the producer's format)."""

    def __init__(self, bootstrap: str, topic: str, hosts: dict[str, dict[str, float]]) -> None:
        self._producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
        self._topic = topic
        self._hosts = hosts
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        seq = 0
        while not self._stop.is_set():
            for host, metrics in self._hosts.items():
                doc = {"v": 1, "host": host, "ts": int(time.time() * 1000), "seq": seq, "metrics": metrics}
                self._producer.produce(self._topic, orjson.dumps(doc), key=host.encode())
            self._producer.poll(0)
            seq += 1
            self._stop.wait(0.2)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._producer.flush(5)
        del self._producer  # destroy the client now, or it keeps reconnecting after the broker stops


@pytest.fixture
def feed(kafka_broker: Any, kafka_topic: str) -> Iterator[tuple[DashboardConfig, Any]]:
    feeds: list[Feed] = []

    def start(hosts: dict[str, dict[str, float]]) -> Feed:
        feeds.append(Feed(kafka_broker.bootstrap_servers, kafka_topic, hosts))
        return feeds[-1]

    yield DashboardConfig(bootstrap_servers=kafka_broker.bootstrap_servers, topic=kafka_topic), start
    for f in feeds:
        f.close()


def points(target: Any) -> dict[str, list[int]]:
    return {d["label"]: d["xs"] for d in target.evaluate(CHART_POINTS)}


def wait_chart_points(target: Any, host: str, n: int = 3, metric: str = "cpu.percent") -> list[int]:
    """``target``: a Page or a Frame. Waits until the Chart.js dataset of host·metric has n points."""
    label = f"{host} · {metric}"
    return wait_for(lambda: len(points(target).get(label, [])) >= n and points(target)[label], 60,
                    f"{n} points of {label} in the chart")


def wait_live(target: Any) -> None:
    wait_for(lambda: target.evaluate("window.dash_clientside.metrics.debugState().socketOpen"), 30,
             "the page's WebSocket to open")


# --- under a prefix, in a portal ----------------------------------------------------------------


def test_chart_gets_points_under_a_prefix_in_an_asgi_portal(page, feed):
    config, start = feed
    start({"asgi-1": {"cpu.percent": 12.5, "mem.used_percent": 40.0}})
    metrics = create_app(config, url_prefix=PREFIX)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with metrics.router.lifespan_context(metrics):
            yield

    async def home(request: Request) -> HTMLResponse:
        return HTMLResponse(f'<h1>Portal</h1><a id="go" href="{PREFIX}">metrics</a>')

    portal = Starlette(routes=[Route("/", home), Mount(PREFIX.rstrip("/"), app=metrics)], lifespan=lifespan)
    with serve_asgi(portal) as base:
        page.goto(base + "/")
        page.click("#go")
        wait_live(page)
        wait_chart_points(page, "asgi-1")
        assert page.url == base + PREFIX
    assert page.errors == []


def test_chart_gets_points_under_a_prefix_in_a_flask_portal(page, feed):
    config, start = feed
    start({"flask-1": {"cpu.percent": 33.0}})
    portal = flask.Flask("portal")
    portal.add_url_rule("/", "home", lambda: "<h1>Flask portal</h1>")
    with serve_asgi(create_app(config, server=portal, url_prefix=PREFIX)) as base:
        page.goto(base + PREFIX)
        wait_chart_points(page, "flask-1")
    assert page.errors == []


# --- through nginx ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("template", "settings"), [
    ("nginx-keep-prefix.conf.template", {"url_prefix": PREFIX}),
    ("nginx-strip-prefix.conf.template", {"url_prefix": "/", "public_url_prefix": PREFIX}),
], ids=["keep-prefix", "strip-prefix"])
def test_chart_gets_points_through_nginx(page, feed, tmp_path: Path, template: str, settings: dict[str, str]):
    config, start = feed
    start({"nginx-1": {"cpu.percent": 7.0}})
    with serve_asgi(create_app(config, **settings)) as base, nginx(tmp_path, template,
                                                                   base.removeprefix("http://")) as proxy:
        ws_urls: list[str] = []
        page.on("websocket", lambda ws: ws_urls.append(ws.url))
        page.goto(proxy.url + PREFIX)
        wait_chart_points(page, "nginx-1")
        assert ws_urls and all(u.startswith(proxy.url.replace("http", "ws") + PREFIX + "ws") for u in ws_urls)
    assert page.errors == []


# --- in an iframe of another origin -----------------------------------------------------------------


@contextlib.contextmanager
def portal_with_iframe() -> Iterator[tuple[str, dict[str, str]]]:
    """A page on its own origin (another port) that frames whatever URL is put in target["url"]."""
    target: dict[str, str] = {}

    async def home(request: Request) -> HTMLResponse:
        return HTMLResponse(f'<h1>Another origin</h1><iframe id="dash" src="{target["url"]}" width="1200" '
                            'height="700"></iframe>')

    with serve_asgi(Starlette(routes=[Route("/", home)])) as base:
        yield base, target


def dashboard_frame(page: Any) -> Any:
    return wait_for(lambda: next((f for f in page.frames if f != page.main_frame), None), 20, "the iframe")


def test_framed_by_an_allowed_origin_the_chart_gets_points(page, feed):
    config, start = feed
    start({"frame-1": {"cpu.percent": 55.0}})
    with portal_with_iframe() as (portal, target):
        app = create_app(config, url_prefix=PREFIX, frame_ancestors=f"'self' {portal}")
        with serve_asgi(app) as base:
            target["url"] = base + PREFIX
            assert portal.rpartition(":")[2] != base.rpartition(":")[2], "two origins"
            page.goto(portal + "/")
            frame = dashboard_frame(page)
            wait_chart_points(frame, "frame-1")
            assert frame.url == base + PREFIX
    assert page.errors == []


def test_framed_by_another_origin_by_default_the_page_is_refused(page, feed):
    config, start = feed
    start({"frame-2": {"cpu.percent": 66.0}})
    console: list[str] = []
    page.on("console", lambda msg: console.append(msg.text))
    with portal_with_iframe() as (portal, target):
        app = create_app(config, url_prefix=PREFIX)  # frame-ancestors 'self'
        with serve_asgi(app) as base:
            target["url"] = base + PREFIX
            page.goto(portal + "/")
            wait_for(lambda: any("frame-ancestors" in line for line in console), 20,
                     "Chromium to report the frame-ancestors refusal")
            frame = dashboard_frame(page)
            assert frame.url != base + PREFIX  # an error page, not the dashboard
            assert not frame.evaluate("typeof window.dash_clientside !== 'undefined'")
            assert app.state.hub.client_count == 0  # no WebSocket was opened from the frame
            # the same page opened directly works: the refusal is about the frame only
            page.goto(base + PREFIX)
            wait_chart_points(page, "frame-2")


# --- untrusted names ----------------------------------------------------------------------------------

HOSTILE_HOST = "<img src=x onerror=alert(1)>"
HOSTILE_METRIC = "<svg onload=alert(2)>.percent"


@pytest.mark.parametrize("renderer", ["chartjs", "plotly"])
def test_hostile_host_and_metric_names_are_shown_as_text(page, feed, renderer: str):
    config, start = feed
    start({HOSTILE_HOST: {"cpu.percent": 1.0, HOSTILE_METRIC: 2.0}})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    with serve_asgi(create_app(config)) as base:
        page.goto(base + "/" + ("?renderer=plotly" if renderer == "plotly" else ""))
        label = f"{HOSTILE_HOST} · cpu.percent"
        if renderer == "chartjs":
            wait_chart_points(page, HOSTILE_HOST)
            legend = wait_for(lambda: [t for t in page.locator(".legend-label").all_inner_texts() if "<" in t], 30,
                              "the legend to list the hostile series")
            assert label in legend and f"{HOSTILE_HOST} · {HOSTILE_METRIC}" in legend
        else:
            legend = wait_for(lambda: [t for t in page.locator("#plotly-graph .legendtext").all_text_contents()
                                       if "<" in t], 30, "the Plotly legend to list the hostile series")
            assert label in legend and f"{HOSTILE_HOST} · {HOSTILE_METRIC}" in legend
        # No element was made from the names, so no onerror/onload handler exists that could fire later.
        assert page.evaluate("document.querySelectorAll('img[src=\"x\"], svg[onload], [onerror]').length") == 0
        assert dialogs == []
        assert page.errors == []


# --- auth in a real browser ---------------------------------------------------------------------------


def test_basic_auth_covers_the_page_and_its_websocket_in_chromium(browser, feed):
    config, start = feed
    start({"basic-1": {"cpu.percent": 21.0}})
    with serve_asgi(create_app(config, url_prefix=PREFIX, basic_auth="ops:correct-horse")) as base:
        anonymous = browser.new_context()
        try:
            # 401 with a Basic challenge and nothing to answer it with (headless cannot prompt)
            with pytest.raises(PlaywrightError, match="ERR_INVALID_AUTH_CREDENTIALS"):
                anonymous.new_page().goto(base + PREFIX)
            assert anonymous.request.get(base + PREFIX + "_dash-layout").status == 401
        finally:
            anonymous.close()
        context = browser.new_context(http_credentials={"username": "ops", "password": "correct-horse"})
        try:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            assert page.goto(base + PREFIX).status == 200
            wait_chart_points(page, "basic-1")  # the WebSocket handshake carried the credentials too
            assert errors == []
        finally:
            context.close()
