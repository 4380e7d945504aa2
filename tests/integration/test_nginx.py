"""The dashboard behind a real nginx (Debian package) rendered from examples/nginx-*.conf.template:
prefix kept, prefix stripped, and nginx as the authenticating proxy; the WebSocket upgrade included.

`Nginx` is also used by tests/browser/test_embedding.py.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from dash_app.app import create_app
from dash_app.config import DashboardConfig
from dash_app.security import CLOSE_ORIGIN
from tests.support import ROOT, free_port, serve_asgi, wait_for

pytestmark = pytest.mark.integration

EXAMPLES = ROOT / "examples"
PREFIX = "/tools/metrics/"
CONFIG = DashboardConfig(bootstrap_servers="127.0.0.1:1", topic="t-nginx")

MAIN_CONF = """\
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
{user}
events {{ worker_connections 128; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/site.conf;
}}
"""


def nginx_binary() -> str:
    found = shutil.which("nginx", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if found is None:
        pytest.fail("nginx is missing: `make test` installs Debian's nginx (apt-get install -y nginx)")
    return found


def render(template: str, **values: str) -> str:
    """envsubst with a fixed list: only ${NAME} placeholders we know are replaced, nginx's $vars stay."""
    text = (EXAMPLES / template).read_text()
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    left = set(re.findall(r"\$\{([A-Z_]+)\}", text))
    assert not left, f"unfilled placeholders in {template}: {left}"
    return text


class Nginx:
    """A private nginx master (own prefix, pid, logs, temp dirs), stopped by its PID."""

    def __init__(self, directory: Path, template: str, upstream: str, **values: str) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (self.dir / "site.conf").write_text(
            render(template, NGINX_PORT=f"127.0.0.1:{self.port}", DASHBOARD_UPSTREAM=upstream, **values))
        # As root the workers would run as nobody, who cannot enter pytest's 0700 tmp dirs.
        user = "user root;" if os.geteuid() == 0 else ""
        (self.dir / "nginx.conf").write_text(MAIN_CONF.format(dir=self.dir, user=user))
        binary = nginx_binary()
        check = subprocess.run([binary, "-t", "-p", str(self.dir), "-e", str(self.dir / "error.log"),
                                "-c", str(self.dir / "nginx.conf")], capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stderr
        self.proc = subprocess.Popen([binary, "-p", str(self.dir), "-e", str(self.dir / "error.log"),
                                      "-c", str(self.dir / "nginx.conf"), "-g", "daemon off;"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

        def listening() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"nginx exited: {self.log()}")
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True

        wait_for(listening, 20, "nginx to listen")

    def log(self) -> str:
        return (self.dir / "error.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM to our master: fast shutdown of it and its worker
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@contextlib.contextmanager
def nginx(directory: Path, template: str, upstream: str, **values: str) -> Iterator[Nginx]:
    server = Nginx(directory, template, upstream, **values)
    try:
        yield server
    finally:
        server.stop()


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def ws_frames(url: str, n: int, **kwargs: Any) -> list[dict[str, Any]]:
    with connect(url, proxy=None, open_timeout=10, **kwargs) as sock:
        sock.send(json.dumps({"type": "ready"}))
        return [orjson.loads(sock.recv(timeout=10)) for _ in range(n)]


def assert_served_through(proxy: Nginx, **ws_kwargs: Any) -> None:
    public = proxy.url + PREFIX
    status, html = get(public, ws_kwargs.get("additional_headers"))
    assert status == 200, html
    config = json.loads(re.search(r'<script id="_dash-config" type="application/json">(.*?)</script>',
                                  html, re.S).group(1))  # type: ignore[union-attr]
    assert config["requests_pathname_prefix"] == PREFIX
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert scripts and all(src.startswith(PREFIX) for src in scripts)
    for src in scripts:
        assert get(proxy.url + src, ws_kwargs.get("additional_headers"))[0] == 200, src
    assert get(public + "_dash-layout", ws_kwargs.get("additional_headers"))[0] == 200
    assert json.loads(get(public + "healthz", ws_kwargs.get("additional_headers"))[1])["kafka"]["topic"] == "t-nginx"
    # the first snapshot a fresh page fetches over HTTP, through the same proxy
    status, body = get(public + "snapshot?sub=" + urllib.parse.quote('{"window": 900, "res": 10}'),
                       ws_kwargs.get("additional_headers"))
    assert status == 200 and orjson.loads(body)["type"] == "snapshot", body[:200]
    # The upgrade goes through nginx; the snapshot and then the ticker's frames come back.
    frames = ws_frames(public.replace("http://", "ws://") + "ws", 2, origin=proxy.url, **ws_kwargs)
    assert [f["type"] for f in frames] == ["snapshot", "data"]


def refused_origin(url: str, **kwargs: Any) -> int:
    with connect(url, proxy=None, open_timeout=10, origin="http://evil.example", **kwargs) as sock:
        with pytest.raises(ConnectionClosed) as info:
            sock.recv(timeout=10)
        assert info.value.rcvd is not None
        return info.value.rcvd.code


def test_nginx_keeping_the_prefix(tmp_path: Path):
    app = create_app(CONFIG, url_prefix=PREFIX, start_consumer=False)
    with serve_asgi(app) as base, nginx(tmp_path, "nginx-keep-prefix.conf.template",
                                          base.removeprefix("http://")) as proxy:
        assert_served_through(proxy)
        assert get(proxy.url + "/")[0] == 404  # nginx forwards the prefix only
        assert refused_origin(proxy.url.replace("http", "ws") + PREFIX + "ws") == CLOSE_ORIGIN  # code passes nginx


def test_nginx_stripping_the_prefix(tmp_path: Path):
    app = create_app(CONFIG, url_prefix="/", public_url_prefix=PREFIX, start_consumer=False)
    with serve_asgi(app) as base, nginx(tmp_path, "nginx-strip-prefix.conf.template",
                                          base.removeprefix("http://")) as proxy:
        assert_served_through(proxy)
        assert get(base + "/healthz")[0] == 200  # upstream, the routes are at /
        assert refused_origin(proxy.url.replace("http", "ws") + PREFIX + "ws") == CLOSE_ORIGIN


def test_nginx_authenticates_and_the_dashboard_trusts_only_nginx(tmp_path: Path):
    password = "nginx-basic-pw"
    hashed = subprocess.run(["openssl", "passwd", "-apr1", password], capture_output=True, text=True,
                            check=True).stdout.strip()
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(f"alice:{hashed}\n")
    # nginx reaches the dashboard from 127.0.0.1; a local attacker below uses 127.0.0.2.
    app = create_app(CONFIG, url_prefix=PREFIX, trusted_proxies="127.0.0.1/32", start_consumer=False)
    with serve_asgi(app) as base, nginx(tmp_path / "nginx", "nginx-sso.conf.template", base.removeprefix("http://"),
                                          HTPASSWD=str(htpasswd)) as proxy:
        assert get(proxy.url + PREFIX)[0] == 401  # nginx asks first
        assert get(proxy.url + PREFIX, {"X-Forwarded-User": "mallory"})[0] == 401  # a forged header does not help
        good = {"Authorization": "Basic " + base64.b64encode(f"alice:{password}".encode()).decode()}
        assert_served_through(proxy, additional_headers=good)
        with pytest.raises(InvalidStatus) as info:
            connect(proxy.url.replace("http", "ws") + PREFIX + "ws", proxy=None, open_timeout=10)
        assert info.value.response.status_code == 401

        port = int(base.rpartition(":")[2])
        direct = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=("127.0.0.2", 0))
        direct.request("GET", PREFIX + "healthz", headers={"X-Forwarded-User": "alice"})
        assert direct.getresponse().status == 403, "the header from an address that is not the proxy is ignored"
        direct.close()
