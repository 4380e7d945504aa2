"""StaticCache: fingerprinted static files answered from memory after their first plain response."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from dash_app.app import create_app
from dash_app.config import DashboardConfig
from dash_app.staticcache import StaticCache
from tests.support import serve_asgi
from tests.test_app import get

SUITE = "/p/_dash-component-suites/dash/dcc/dash_core_components.v4_4_1m1796425246.js"


class Inner:
    """A fake app behind the cache: counts calls, answers with a fixed status and body."""

    def __init__(self, status: int = 200) -> None:
        self.calls = 0
        self.status = status

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls += 1
        await send({"type": "http.response.start", "status": self.status,
                    "headers": [(b"content-type", b"text/javascript"), (b"date", b"Mon, 01 Jan 2024 00:00:00 GMT")]})
        await send({"type": "http.response.body", "body": b"body-" + str(self.calls).encode(), "more_body": True})
        await send({"type": "http.response.body", "body": b"-end"})


def request(cache: StaticCache, path: str, query: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None,
            method: str = "GET") -> tuple[dict[str, Any], bytes]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.start":
            message["headers"].append((b"x-outer", b"1"))  # as an outer middleware may do, in place

    scope = {"type": "http", "method": method, "path": path, "query_string": query, "headers": headers or []}
    asyncio.run(cache(scope, None, send))  # type: ignore[arg-type]
    return sent[0], b"".join(m.get("body", b"") for m in sent[1:])


def test_a_fingerprinted_file_is_answered_from_memory_the_second_time():
    inner = Inner()
    cache = StaticCache(inner, "/p/")
    first = request(cache, SUITE)
    second = request(cache, SUITE)
    assert inner.calls == 1 and first[1] == second[1] == b"body-1-end"
    assert second[0]["status"] == 200
    names = [k for k, _ in second[0]["headers"]]
    assert names.count(b"x-outer") == 1, "each answer gets a fresh copy of the headers"
    assert b"date" not in names, "the server adds its own Date"
    asset = request(cache, "/p/assets/dashboard.js", b"m=1796425183.98")
    assert request(cache, "/p/assets/dashboard.js", b"m=1796425183.98")[1] == asset[1] == b"body-2-end"
    assert inner.calls == 2


def test_other_requests_always_reach_the_app():
    inner = Inner()
    cache = StaticCache(inner, "/p/")
    for path, query, headers, method in [
        ("/p/", b"", [], "GET"),  # the page
        ("/p/_dash-layout", b"", [], "GET"),
        ("/p/assets/dashboard.js", b"", [], "GET"),  # no fingerprint: may change on disk
        ("/p/assets/dashboard.js", b"m=1&x=2", [], "GET"),
        (SUITE, b"", [(b"If-None-Match", b'"x"')], "GET"),  # conditional: Flask answers 304 itself
        (SUITE, b"", [(b"range", b"bytes=0-10")], "GET"),
        (SUITE, b"", [], "HEAD"),
    ]:
        before = inner.calls
        request(cache, path, query, headers, method)
        request(cache, path, query, headers, method)
        assert inner.calls == before + 2, (path, query, headers, method)


def test_errors_are_not_kept():
    inner = Inner(status=404)
    cache = StaticCache(inner, "/p/")
    request(cache, SUITE)
    request(cache, SUITE)
    assert inner.calls == 2 and not cache.responses


def test_the_page_scripts_come_from_the_cache_unchanged():
    app = create_app(DashboardConfig(bootstrap_servers="127.0.0.1:1", topic="t-cache"), start_consumer=False)
    with serve_asgi(app) as base:
        scripts = re.findall(r'<script src="([^"]+)"', get(base + "/")[2])
        first = {src: get(base + src) for src in scripts}
        again = {src: get(base + src) for src in scripts}
    for src in scripts:
        assert first[src][0] == again[src][0] == 200 and first[src][2] == again[src][2], src
        assert again[src][1]["Content-Security-Policy"] == "frame-ancestors 'self'", "security headers still added"
        assert again[src][1]["Content-Type"] == first[src][1]["Content-Type"], src
