"""create_app as a factory: standalone, mounted in an ASGI or Flask portal under a prefix, behind a
prefix-stripping proxy; over real uvicorn sockets, without Kafka (start_consumer=False)."""

from __future__ import annotations

import contextlib
import gzip
import http.cookiejar
import importlib.util
import json
import logging
import os
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any

import flask
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from dash_app.app import create_app, without_polyfill
from dash_app.config import DashboardConfig
from dash_app.errors import ConfigError
from tests.support import ROOT, serve_asgi

CONFIG = DashboardConfig(bootstrap_servers="127.0.0.1:1", topic="t-app")


def get(url: str, headers: dict[str, str] | None = None, data: bytes | None = None) -> tuple[int, Any, str]:
    request = urllib.request.Request(url, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read().decode()


def ws_url(base: str, path: str) -> str:
    return base.replace("http://", "ws://") + path


def snapshot_over_ws(url: str, **kwargs: Any) -> dict[str, Any]:
    with connect(url, proxy=None, open_timeout=10, **kwargs) as ws:
        ws.send(json.dumps({"type": "ready"}))
        frame = orjson.loads(ws.recv(timeout=10))
    assert frame["type"] == "snapshot", frame
    return frame  # type: ignore[no-any-return]


def dash_config(html: str) -> dict[str, Any]:
    match = re.search(r'<script id="_dash-config" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the page carries Dash's config"
    return json.loads(match.group(1))  # type: ignore[no-any-return]


def assert_page_works_under(base: str, prefix: str, headers: dict[str, str] | None = None,
                            topic: str = "t-app") -> str:
    status, _, html = get(base + prefix, headers)
    assert status == 200 and "Live system metrics" in html
    assert dash_config(html)["requests_pathname_prefix"] == prefix
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert scripts and all(src.startswith(prefix) for src in scripts), scripts
    assert any("/assets/dashboard.js" in src for src in scripts)
    for src in scripts:  # assets and Dash's component bundles come through the prefix
        assert get(base + src, headers)[0] == 200, src
    assert json.loads(get(base + prefix + "_dash-layout", headers)[2])["props"]["className"] == "page"
    assert get(base + prefix + "_dash-dependencies", headers)[0] == 200
    assert json.loads(get(base + prefix + "healthz", headers)[2])["kafka"]["topic"] == topic
    assert get(base + prefix + "metrics", headers)[0] == 200
    snapshot_over_ws(ws_url(base, prefix + "ws"), additional_headers=headers)
    return html


def test_standalone_page_assets_callbacks_health_and_websocket_at_root():
    with serve_asgi(create_app(CONFIG, start_consumer=False)) as base:
        assert_page_works_under(base, "/")
        headers = get(base + "/")[1]
        assert headers["Content-Security-Policy"] == "frame-ancestors 'self'"
        assert headers["X-Frame-Options"] == "SAMEORIGIN"
        assert headers["X-Content-Type-Options"] == "nosniff"


def test_the_page_loads_no_babel_polyfill_but_the_regenerator_runtime_dash_needs():
    with serve_asgi(create_app(CONFIG, start_consumer=False)) as base:
        scripts = re.findall(r'<script src="([^"]+)"', get(base + "/")[2])
    assert not [src for src in scripts if "polyfill" in src], scripts
    assert any(src.startswith("/_dash-component-suites/dash/deps/react@") for src in scripts), scripts
    runtime = [src for src in scripts if src.startswith("/assets/vendor/regenerator-runtime.js")]
    assert runtime, scripts  # dcc's lazy components (the Plotly fallback's Graph) call regeneratorRuntime


def test_the_first_snapshot_over_http_gzipped_never_cached_and_bad_subscriptions_refused():
    with serve_asgi(create_app(CONFIG, start_consumer=False, url_prefix="/tools/metrics/")) as base:
        sub = urllib.parse.quote(json.dumps({"window": 900, "res": 10, "res_over": 200000}))
        url = f"{base}/tools/metrics/snapshot?sub={sub}"
        request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(request, timeout=10) as r:
            assert r.headers["Content-Encoding"] == "gzip" and r.headers["Cache-Control"] == "no-store"
            assert r.headers["Content-Type"] == "application/json"
            frame = orjson.loads(gzip.decompress(r.read()))
        assert frame["type"] == "snapshot" and frame["v"] == 2 and frame["series"] == []
        assert frame["epoch"] == snapshot_over_ws(ws_url(base, "/tools/metrics/ws"))["epoch"]  # one relay
        status, headers, body = get(url)  # no Accept-Encoding: plain JSON
        assert status == 200 and "Content-Encoding" not in headers and orjson.loads(body)["type"] == "snapshot"
        status, _, body = get(f"{base}/tools/metrics/snapshot?sub=" + urllib.parse.quote('{"window": -1}'))
        assert status == 400 and "'window' must be whole seconds" in json.loads(body)["error"]
        assert get(f"{base}/snapshot")[0] == 404  # only under the prefix


def test_without_polyfill_removes_only_the_polyfill_tag():
    tags = ('<script src="/p/_dash-component-suites/dash/deps/polyfill@7.v4_4_1m1.12.1.min.js"></script>\n'
            '<script src="/p/_dash-component-suites/dash/deps/react@18.v4_4_1m1.3.1.min.js"></script>\n'
            '<script src="/p/assets/dashboard.js?m=1"></script>')
    assert without_polyfill(tags) == ('<script src="/p/_dash-component-suites/dash/deps/react@18.v4_4_1m1.3.1.min.js">'
                                      '</script>\n<script src="/p/assets/dashboard.js?m=1"></script>')
    assert without_polyfill(tags.split("\n", 1)[1]) == tags.split("\n", 1)[1]


def test_standalone_under_a_prefix_serves_nothing_outside_it():
    with serve_asgi(create_app(CONFIG, url_prefix="/tools/metrics/", start_consumer=False)) as base:
        assert_page_works_under(base, "/tools/metrics/")
        assert get(base + "/healthz")[0] == 404
        assert get(base + "/_dash-layout")[0] == 404


@contextlib.contextmanager
def asgi_portal(run_lifespan: bool = True, **settings: Any) -> Iterator[tuple[str, Starlette]]:
    metrics = create_app(CONFIG, url_prefix="/tools/metrics/", start_consumer=False, **settings)

    async def home(request: Request) -> PlainTextResponse:
        return PlainTextResponse("portal home")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with metrics.router.lifespan_context(metrics):  # a mounted app's lifespan is the portal's job
            yield

    portal = Starlette(routes=[Route("/", home), Mount("/tools/metrics", app=metrics)],
                       lifespan=lifespan if run_lifespan else None)
    with serve_asgi(portal) as base:
        yield base, metrics


def test_mounted_in_an_asgi_portal_under_a_prefix():
    with asgi_portal() as (base, _):
        assert get(base + "/")[2] == "portal home"
        assert_page_works_under(base, "/tools/metrics/")


def test_mounted_without_the_lifespan_still_streams_and_says_why(caplog: pytest.LogCaptureFixture):
    with asgi_portal(run_lifespan=False) as (base, _), connect(ws_url(base, "/tools/metrics/ws"), proxy=None) as ws:
        ws.send(json.dumps({"type": "ready"}))
        assert orjson.loads(ws.recv(timeout=10))["type"] == "snapshot"
        # data frames come from the hub's ticker: it runs although no lifespan started it
        assert orjson.loads(ws.recv(timeout=10))["type"] == "data"
    assert any("lifespan did not run" in r.getMessage() for r in caplog.records)


def test_registered_on_a_flask_portal_keeps_the_portals_routes():
    portal = flask.Flask("portal")

    @portal.route("/")
    def home() -> str:
        return "flask portal home"

    @portal.route("/reports/")
    def reports() -> str:
        return "reports"

    app = create_app(CONFIG, server=portal, url_prefix="/tools/metrics/", start_consumer=False)
    with serve_asgi(app) as base:
        assert get(base + "/")[2] == "flask portal home"
        assert get(base + "/reports/")[2] == "reports"
        assert_page_works_under(base, "/tools/metrics/")
        # the dashboard's headers are for the dashboard's paths; the portal keeps its own policy
        assert "Content-Security-Policy" not in get(base + "/")[1]


def test_auth_guards_the_dashboard_paths_not_the_portals():
    portal = flask.Flask("portal")
    portal.add_url_rule("/", "home", lambda: "open portal page")
    token = "t0ken-for-the-flask-portal"
    app = create_app(CONFIG, server=portal, url_prefix="/tools/metrics/", auth_token=token, start_consumer=False)
    with serve_asgi(app) as base:
        assert get(base + "/")[0] == 200
        assert get(base + "/tools/metrics/")[0] == 401
        assert get(base + "/tools/metrics")[0] == 401
        assert get(base + "/tools/metrics/", {"Authorization": f"Bearer {token}"})[0] == 200
        assert get(base + "/tools/metrics/snapshot")[0] == 401  # the data, over HTTP too
        assert get(base + "/tools/metrics/snapshot", {"Authorization": f"Bearer {token}"})[0] == 200


def test_behind_a_proxy_that_strips_the_prefix_the_page_asks_for_the_public_one():
    app = create_app(CONFIG, url_prefix="/", public_url_prefix="/tools/metrics/", start_consumer=False)
    with serve_asgi(app) as base:
        html = get(base + "/")[2]
        config = dash_config(html)
        assert config["requests_pathname_prefix"] == "/tools/metrics/"  # what the browser asks for ...
        assert config["url_base_pathname"] is None
        scripts = re.findall(r'<script src="([^"]+)"', html)
        assert scripts and all(src.startswith("/tools/metrics/") for src in scripts)
        assert get(base + "/" + scripts[0].removeprefix("/tools/metrics/"))[0] == 200  # ... served at /
        assert get(base + "/_dash-layout")[0] == 200
        snapshot_over_ws(ws_url(base, "/ws"))


def test_settings_passed_to_the_factory_are_checked_like_environment_variables():
    with pytest.raises(ConfigError, match=r"^url_prefix='metrics': must start with '/'$"):
        create_app(CONFIG, url_prefix="metrics", start_consumer=False)
    with pytest.raises(ConfigError, match=r"^public_url_prefix='/a/': must end with the url prefix '/b/'$"):
        create_app(CONFIG, url_prefix="/b/", public_url_prefix="/a/", start_consumer=False)
    with pytest.raises(ConfigError, match=r"^auth_token='\*\*\*\*': must be at least 16"):
        create_app(CONFIG, auth_token="short-secret", start_consumer=False)
    with pytest.raises(TypeError, match="unknown setting 'urlprefix'"):
        create_app(CONFIG, urlprefix="/x/", start_consumer=False)
    app = create_app(CONFIG, allowed_origins=["https://Portal.example.com:443"], start_consumer=False)
    assert app.state.config.allowed_origins == ("https://portal.example.com",)


def test_without_a_config_the_factory_reads_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DASH_URL_PREFIX", "/from-env/")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SSL")
    app = create_app(start_consumer=False)
    assert app.state.config.url_prefix == "/from-env/"
    assert app.state.consumer.config()["security.protocol"] == "SSL"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "metrics.example.com"])
def test_a_non_loopback_bind_without_auth_warns_loudly(host: str, caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.WARNING, logger="dash_app.app"):
        create_app(CONFIG, host=host, start_consumer=False)
    warnings = [r.getMessage() for r in caplog.records if "SECURITY WARNING" in r.getMessage()]
    assert len(warnings) == 1 and host in warnings[0] and "DASH_AUTH_TOKEN" in warnings[0]


@pytest.mark.parametrize(
    ("host", "settings"),
    [("127.0.0.1", {}), ("localhost", {}), ("::1", {}), ("0.0.0.0", {"auth_token": "x" * 20}),
     ("0.0.0.0", {"basic_auth": "ops:long-enough"}), ("0.0.0.0", {"trusted_proxies": "10.0.0.5"})],
)
def test_no_warning_on_loopback_or_with_auth(host: str, settings: dict[str, str], caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.WARNING, logger="dash_app.app"):
        create_app(CONFIG, host=host, start_consumer=False, **settings)
    assert not [r for r in caplog.records if "SECURITY WARNING" in r.getMessage()]


def test_a_hook_counts_as_auth_for_the_warning(caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.WARNING, logger="dash_app.app"):
        create_app(CONFIG, host="0.0.0.0", authorize=lambda conn: True, start_consumer=False)
    assert not [r for r in caplog.records if "SECURITY WARNING" in r.getMessage()]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dash_app", *args], cwd=ROOT, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", **(env or {})}, timeout=60)


@pytest.mark.parametrize(
    ("args", "env", "line"),
    [
        (["--url-prefix", "/b/", "--public-url-prefix", "/a/"], {},
         "dash_app: --public-url-prefix='/a/': must end with the url prefix '/b/'"),
        ([], {"DASH_FRAME_ANCESTORS": "'self'; script-src *"},
         "dash_app: DASH_FRAME_ANCESTORS=\"'self'; script-src *\": \"'self';\" is not 'self', 'none' or an "
         "origin like https://portal.example.com"),
        ([], {"DASH_ALLOWED_ORIGINS": "portal.example.com"},
         "dash_app: DASH_ALLOWED_ORIGINS='portal.example.com': 'portal.example.com' is not an origin like "
         "https://portal.example.com[:port]"),
        ([], {"DASH_TRUSTED_PROXIES": "10.0.0.0/8,proxy"},
         "dash_app: DASH_TRUSTED_PROXIES='10.0.0.0/8,proxy': 'proxy' is not an IP address or network "
         "(127.0.0.1, 10.0.0.0/8)"),
        ([], {"DASH_BASIC_AUTH": "ops-only-user"},
         "dash_app: DASH_BASIC_AUTH='****': must be user:password with a password of at least 8 characters"),
        ([], {"DASH_WS_RATE_LIMIT": "fast"}, "dash_app: DASH_WS_RATE_LIMIT='fast': not a number"),
    ],
)
def test_bad_security_settings_are_one_line_and_exit_2(args: list[str], env: dict[str, str], line: str):
    proc = run_cli(*args, env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [line]


def test_print_config_masks_the_dashboards_own_secrets():
    proc = run_cli("--print-config", env={
        "DASH_AUTH_TOKEN": "correct-horse-battery-staple", "DASH_BASIC_AUTH": "ops:hunter2-hunter2",
        "KAFKA_SASL_PASSWORD": "kafka-pw-123", "KAFKA_SSL_KEY_PEM": "-----BEGIN PRIVATE KEY-----",
        "KAFKA_SSL_KEY_PASSWORD": "key-pw-456", "KAFKA_OPTS": "-Xmx1g", "KAFKA_SASL_USERNAME": "metrics",
    })
    assert proc.returncode == 0, proc.stderr
    for secret in ("correct-horse", "hunter2", "kafka-pw-123", "BEGIN PRIVATE", "key-pw-456"):
        assert secret not in proc.stdout
    printed = json.loads(proc.stdout)
    assert printed["auth_token"] == "****" and printed["basic_auth"] == "ops:****"
    assert printed["kafka"] == {"sasl.password": "****", "sasl.username": "metrics", "ssl.key.password": "****",
                                "ssl.key.pem": "****"}  # KAFKA_OPTS is the JVM's, not a client setting


# --- the runnable examples ------------------------------------------------------------------------


def load_example(name: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Import examples/<name>.py as its users would run it: settings from the environment."""
    for key in [k for k in os.environ if k.startswith(("DASH_", "KAFKA_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # no broker needed for these checks
    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_standalone_example(monkeypatch: pytest.MonkeyPatch):
    with serve_asgi(load_example("standalone", monkeypatch).app) as base:
        assert_page_works_under(base, "/", topic="system-metrics")


@pytest.mark.parametrize("name", ["asgi_portal", "flask_portal"])
def test_portal_examples_one_login_covers_page_callbacks_and_websocket(name: str, monkeypatch: pytest.MonkeyPatch):
    module = load_example(name, monkeypatch)
    prefix = module.PREFIX
    with serve_asgi(module.app) as base:
        for path in ("", "_dash-layout", "healthz", "metrics"):
            assert get(base + prefix + path)[0] == 403, path
        with pytest.raises(InvalidStatus) as info:
            connect(ws_url(base, prefix + "ws"), proxy=None, open_timeout=10)
        assert info.value.response.status_code == 403

        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        with opener.open(base + "/login?user=alice", timeout=10) as r:  # redirected to the portal's home
            assert f'href="{prefix}"' in r.read().decode()
        cookie = {"Cookie": "; ".join(f"{c.name}={c.value}" for c in jar)}
        assert_page_works_under(base, prefix, cookie, topic="system-metrics")
        forged = {"Cookie": cookie["Cookie"][:-4] + "AAAA"}
        assert get(base + prefix, forged)[0] == 403
