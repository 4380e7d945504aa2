"""dash_app/security.py: who may load the page, call back, scrape, open the WebSocket and frame the page.

Policy decisions are checked on hand-built connections; the middleware on real uvicorn sockets
(urllib, http.client and the websockets client), without Kafka.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from starlette.requests import HTTPConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from dash_app.app import create_app
from dash_app.config import DashboardConfig
from dash_app.security import CLOSE_ORIGIN, CLOSE_RATE, CLOSE_TOO_BIG, Decision, Policy, _TokenBucket
from tests.support import serve_asgi, wait_for

CONFIG = DashboardConfig(bootstrap_servers="127.0.0.1:1", topic="t-sec")
TOKEN = "s3cret-token-for-tests-0123"
BASIC = "ops:correct-horse"


def conn(headers: dict[str, str] | None = None, client: str = "127.0.0.1", kind: str = "http",
         path: str = "/") -> HTTPConnection:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return HTTPConnection({"type": kind, "path": path, "headers": raw, "client": (client, 50000),
                           "query_string": b"", "scheme": "http", "server": ("127.0.0.1", 8050)})


def decide(policy: Policy, **kwargs: Any) -> Decision:
    return asyncio.run(policy.decide(conn(**kwargs)))[0]


def basic(user_pass: str) -> str:
    return "Basic " + base64.b64encode(user_pass.encode()).decode()


# --- decisions -------------------------------------------------------------------------------------


def test_auth_is_off_by_default():
    policy = Policy.from_config(CONFIG)
    assert not policy.auth_enabled
    assert decide(policy) is Decision.ALLOW


def test_bearer_token_missing_wrong_right():
    policy = Policy(auth_token=TOKEN)
    assert decide(policy) is Decision.UNAUTHENTICATED
    assert decide(policy, headers={"Authorization": "Bearer nope"}) is Decision.FORBIDDEN
    assert decide(policy, headers={"Authorization": f"Bearer {TOKEN}x"}) is Decision.FORBIDDEN
    assert decide(policy, headers={"Authorization": f"bearer  {TOKEN}"}) is Decision.ALLOW
    assert decide(policy, headers={"Authorization": basic(f"x:{TOKEN}")}) is Decision.UNAUTHENTICATED


def test_basic_auth_missing_wrong_right_and_garbage():
    policy = Policy(basic_auth=BASIC)
    assert decide(policy) is Decision.UNAUTHENTICATED
    assert decide(policy, headers={"Authorization": basic("ops:wrong")}) is Decision.FORBIDDEN
    assert decide(policy, headers={"Authorization": basic("other:correct-horse")}) is Decision.FORBIDDEN
    assert decide(policy, headers={"Authorization": "Basic %%%not-base64"}) is Decision.FORBIDDEN
    assert decide(policy, headers={"Authorization": "Basic " + base64.b64encode(b"\xff\xfe").decode()}) is (
        Decision.FORBIDDEN)
    allowed, who = asyncio.run(policy.decide(conn({"Authorization": basic(BASIC)})))
    assert allowed is Decision.ALLOW and who == "ops"
    assert policy.challenge() == [(b"www-authenticate", b'Basic realm="metrics dashboard"')]


def test_proxy_user_header_is_honoured_only_from_a_trusted_address():
    policy = Policy.from_config(DashboardConfig(trusted_proxies=("10.1.2.3/32", "fd00::/8")))
    header = {"X-Forwarded-User": "alice"}
    allowed, who = asyncio.run(policy.decide(conn(header, client="10.1.2.3")))
    assert allowed is Decision.ALLOW and who == "alice"
    assert decide(policy, headers=header, client="fd00::7") is Decision.ALLOW
    assert decide(policy, headers=header, client="10.1.2.4") is Decision.FORBIDDEN  # forged by a client
    assert decide(policy, headers={"X-Forwarded-User": " "}, client="10.1.2.3") is Decision.FORBIDDEN
    assert decide(policy, client="10.1.2.3") is Decision.FORBIDDEN  # the proxy let someone through unnamed


def test_proxy_header_name_is_configurable():
    config = DashboardConfig(trusted_proxies=("127.0.0.1",), proxy_user_header="X-Auth-Request-User")
    policy = Policy.from_config(config)
    assert decide(policy, headers={"X-Forwarded-User": "alice"}) is Decision.FORBIDDEN
    assert decide(policy, headers={"X-Auth-Request-User": "alice"}) is Decision.ALLOW


def test_authorize_hook_sync_async_raising_and_not_a_bool():
    seen: list[str] = []

    def sync_hook(c: HTTPConnection) -> bool:
        seen.append(c.url.path)
        return c.headers.get("x-portal-session") == "valid"

    async def async_hook(c: HTTPConnection) -> bool:
        return c.cookies.get("portal") == "ok"

    def broken(c: HTTPConnection) -> bool:
        raise RuntimeError("session store down")

    assert decide(Policy(authorize=sync_hook), headers={"X-Portal-Session": "valid"}, path="/x") is Decision.ALLOW
    assert seen == ["/x"]
    assert decide(Policy(authorize=sync_hook)) is Decision.FORBIDDEN
    assert decide(Policy(authorize=async_hook), headers={"Cookie": "portal=ok"}) is Decision.ALLOW
    assert decide(Policy(authorize=async_hook)) is Decision.FORBIDDEN
    assert decide(Policy(authorize=broken)) is Decision.FORBIDDEN  # fails closed
    assert decide(Policy(authorize=lambda c: "yes")) is Decision.FORBIDDEN  # type: ignore[arg-type,return-value]


def test_methods_are_alternatives():
    policy = Policy(auth_token=TOKEN, authorize=lambda c: c.headers.get("x-portal") == "1")
    assert decide(policy, headers={"X-Portal": "1"}) is Decision.ALLOW
    assert decide(policy, headers={"Authorization": f"Bearer {TOKEN}"}) is Decision.ALLOW
    assert decide(policy) is Decision.UNAUTHENTICATED  # the token scheme can still be tried
    assert decide(policy, headers={"Authorization": "Bearer bad"}) is Decision.FORBIDDEN


# --- origins ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        ("http://127.0.0.1:8050", "127.0.0.1:8050", True),
        ("https://metrics.example.com", "metrics.example.com", True),  # TLS ends at the proxy
        ("https://metrics.example.com:443", "metrics.example.com", True),
        ("http://METRICS.example.com", "metrics.example.com:80", True),
        ("http://127.0.0.1:9999", "127.0.0.1:8050", False),  # another port is another site
        ("http://evil.example", "127.0.0.1:8050", False),
        ("http://127.0.0.1.evil.example:8050", "127.0.0.1:8050", False),
        ("null", "127.0.0.1:8050", False),  # sandboxed iframes, file:// pages
        ("https://metrics.example.com", "metrics.example.com:8443", False),
        ("http://[::1]:8050", "[::1]:8050", True),
    ],
)
def test_origin_must_match_the_host_by_default(origin: str, host: str, allowed: bool):
    policy = Policy.from_config(CONFIG)
    assert policy.origin_allowed(conn({"Origin": origin, "Host": host}, kind="websocket")) is allowed


def test_no_origin_header_is_not_a_browser_and_passes():
    assert Policy().origin_allowed(conn({"Host": "127.0.0.1:8050"}, kind="websocket"))


def test_listed_origins_and_star():
    policy = Policy.from_config(DashboardConfig(allowed_origins=("https://portal.example.com",)))
    c = conn({"Origin": "https://portal.example.com:443", "Host": "metrics.internal"}, kind="websocket")
    assert policy.origin_allowed(c)
    assert not policy.origin_allowed(conn({"Origin": "https://evil.example", "Host": "m"}, kind="websocket"))
    assert Policy(allowed_origins=("*",)).origin_allowed(conn({"Origin": "https://evil.example", "Host": "m"}))


def test_forwarded_host_counts_only_from_a_trusted_proxy():
    headers = {"Origin": "https://metrics.example.com", "Host": "127.0.0.1:8050",
               "X-Forwarded-Host": "metrics.example.com"}
    policy = Policy.from_config(DashboardConfig(trusted_proxies=("10.0.0.1",)))
    assert policy.origin_allowed(conn(headers, client="10.0.0.1", kind="websocket"))
    assert not policy.origin_allowed(conn(headers, client="10.0.0.2", kind="websocket"))


def test_token_bucket_allows_bursts_of_twice_the_rate_then_refills():
    now = [0.0]
    bucket = _TokenBucket(5, clock=lambda: now[0])
    assert [bucket.take() for _ in range(11)] == [True] * 10 + [False]
    now[0] += 0.2  # one token back
    assert bucket.take() and not bucket.take()


def test_frame_ancestors_header_and_legacy_header():
    assert dict(Policy.from_config(CONFIG).response_headers())[b"x-frame-options"] == b"SAMEORIGIN"
    headers = dict(Policy(frame_ancestors="'self' https://portal.example.com").response_headers())
    assert headers[b"content-security-policy"] == b"frame-ancestors 'self' https://portal.example.com"
    assert b"x-frame-options" not in headers  # it would forbid the portal's frame in CSP-aware browsers too
    assert dict(Policy(frame_ancestors="'none'").response_headers())[b"x-frame-options"] == b"DENY"


# --- over real sockets -----------------------------------------------------------------------------


def request(url: str, headers: dict[str, str] | None = None, data: bytes | None = None) -> tuple[int, Any]:
    req = urllib.request.Request(url, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers
    except urllib.error.HTTPError as err:
        return err.code, err.headers


def ws(base: str, path: str = "/ws", **kwargs: Any) -> ClientConnection:
    return connect(base.replace("http://", "ws://") + path, proxy=None, open_timeout=10, **kwargs)


def recv_json(sock: ClientConnection) -> dict[str, Any]:
    return orjson.loads(sock.recv(timeout=10))  # type: ignore[no-any-return]


def closed_with(sock: ClientConnection, timeout: float = 10) -> tuple[int, str]:
    """Read (and drop) frames until the server closes; fail if it has not within ``timeout``."""
    deadline = time.monotonic() + timeout
    with pytest.raises(ConnectionClosed) as info:
        while (left := deadline - time.monotonic()) > 0:
            with contextlib.suppress(TimeoutError):
                sock.recv(timeout=left)
    assert info.value.rcvd is not None, "the server sent a close frame"
    return info.value.rcvd.code, info.value.rcvd.reason


@contextlib.contextmanager
def dashboard(**settings: Any) -> Iterator[str]:
    with serve_asgi(create_app(CONFIG, start_consumer=False, **settings)) as base:
        yield base


@pytest.fixture(scope="module")
def with_token() -> Iterator[str]:
    with dashboard(url_prefix="/tools/metrics/", auth_token=TOKEN, basic_auth=BASIC) as base:
        yield base + "/tools/metrics/"


GUARDED = ["", "_dash-layout", "_dash-dependencies", "assets/dashboard.js", "healthz", "metrics",
           "anything/under/the/prefix"]
CALLBACK = json.dumps({"output": "x.children", "outputs": {"id": "x", "property": "children"},
                       "inputs": [], "changedPropIds": []}).encode()


@pytest.mark.parametrize("path", GUARDED)
def test_missing_credentials_get_401_with_a_challenge(with_token: str, path: str):
    status, headers = request(with_token + path)
    assert status == 401
    assert headers.get_all("WWW-Authenticate") == ['Basic realm="metrics dashboard"',
                                                   'Bearer realm="metrics dashboard"']
    assert headers["Content-Security-Policy"] == "frame-ancestors 'self'"


@pytest.mark.parametrize("path", GUARDED)
def test_wrong_credentials_get_403(with_token: str, path: str):
    assert request(with_token + path, {"Authorization": "Bearer wrong-token-wrong-token"})[0] == 403
    assert request(with_token + path, {"Authorization": basic("ops:wrong")})[0] == 403


def test_dash_callbacks_are_guarded(with_token: str):
    url = with_token + "_dash-update-component"
    json_ct = {"Content-Type": "application/json"}
    assert request(url, json_ct, CALLBACK)[0] == 401
    assert request(url, {**json_ct, "Authorization": "Bearer wrong-token-wrong-token"}, CALLBACK)[0] == 403
    # with the token the request reaches Dash (which has no such server callback)
    assert request(url, {**json_ct, "Authorization": f"Bearer {TOKEN}"}, CALLBACK)[0] not in (401, 403)


@pytest.mark.parametrize("path", ["", "_dash-layout", "assets/dashboard.js", "healthz", "metrics"])
def test_right_credentials_pass(with_token: str, path: str):
    assert request(with_token + path, {"Authorization": f"Bearer {TOKEN}"})[0] == 200
    assert request(with_token + path, {"Authorization": basic(BASIC)})[0] == 200


def test_websocket_handshake_needs_the_same_credentials(with_token: str):
    base = with_token.removesuffix("/tools/metrics/")
    for headers, status in (({}, 401), ({"Authorization": "Bearer wrong-token-wrong-token"}, 403),
                            ({"Authorization": basic("ops:nope")}, 403)):
        with pytest.raises(InvalidStatus) as info:
            ws(base, "/tools/metrics/ws", additional_headers=headers)
        assert info.value.response.status_code == status
    for good in ({"Authorization": f"Bearer {TOKEN}"}, {"Authorization": basic(BASIC)}):
        with ws(base, "/tools/metrics/ws", additional_headers=good) as sock:
            sock.send(json.dumps({"type": "ready"}))
            assert recv_json(sock)["type"] == "snapshot"


def test_cross_origin_websocket_is_refused_with_4403():
    with dashboard() as base:
        host = base.removeprefix("http://")
        with ws(base, origin="http://evil.example") as sock:  # type: ignore[arg-type]
            assert closed_with(sock) == (CLOSE_ORIGIN, "origin not allowed")
        other_port = f"http://127.0.0.1:{int(host.rpartition(':')[2]) + 1}"
        with ws(base, origin=other_port) as sock:  # type: ignore[arg-type]
            assert closed_with(sock)[0] == CLOSE_ORIGIN
        with ws(base, origin=f"http://{host}") as sock:  # type: ignore[arg-type]
            sock.send(json.dumps({"type": "ready"}))
            assert recv_json(sock)["type"] == "snapshot"


def test_an_allowed_portal_origin_may_open_the_websocket():
    with dashboard(allowed_origins="http://portal.test:8443") as base:
        with ws(base, origin="http://portal.test:8443") as sock:  # type: ignore[arg-type]
            sock.send(json.dumps({"type": "ready"}))
            assert recv_json(sock)["type"] == "snapshot"
        with ws(base, origin="http://portal.test") as sock:  # type: ignore[arg-type]
            assert closed_with(sock)[0] == CLOSE_ORIGIN


def test_garbage_and_unknown_messages_get_an_error_frame_and_the_socket_stays_usable():
    with dashboard() as base, ws(base) as sock:
        for junk in ("{not json", '{"type": "exec", "cmd": "rm -rf /"}', "[]", '"ready"', "\u0000" * 100):
            sock.send(junk)
            frame = recv_json(sock)
            assert frame["type"] == "error" and frame["error"], junk
        sock.send(b"\x00\x01binary")
        assert recv_json(sock)["type"] == "error"
        sock.send(json.dumps({"type": "ready"}))
        assert recv_json(sock)["type"] == "snapshot"


def test_an_oversized_message_closes_with_1009():
    with dashboard(ws_max_message_bytes=1024) as base, ws(base) as sock:
        sock.send(json.dumps({"type": "ready", "pad": "x" * 900}))  # under the limit: fine
        assert recv_json(sock)["type"] == "snapshot"
        sock.send(json.dumps({"type": "ready", "pad": "x" * 2000}))
        code, reason = closed_with(sock)
        assert code == CLOSE_TOO_BIG and "message too big" in reason


def test_a_message_flood_closes_with_1008_and_the_app_sees_the_client_leave():
    with dashboard(ws_rate_limit=5) as base:
        app_clients = lambda: json.loads(urllib.request.urlopen(base + "/healthz", timeout=5).read())["clients"]  # noqa: E731
        with ws(base) as sock:
            wait_for(lambda: app_clients() == 1, 10, "the hub to see the client")
            for _ in range(30):  # a burst of 10 is allowed at 5/s; 30 at once is not
                with contextlib.suppress(ConnectionClosed):
                    sock.send(json.dumps({"type": "resync"}))
            code, reason = closed_with(sock)
        assert code == CLOSE_RATE and reason == "too many messages"
        wait_for(lambda: app_clients() == 0, 10, "the hub to drop the closed client")


def test_the_proxy_user_header_from_another_loopback_address_is_not_trusted():
    # The dashboard trusts only 127.0.0.3 (the proxy); a client on 127.0.0.2 forging the header is refused.
    with dashboard(trusted_proxies="127.0.0.3") as base:
        port = int(base.rpartition(":")[2])

        def status_from(source: str, headers: dict[str, str]) -> int:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
            try:
                c.request("GET", "/healthz", headers=headers)
                return c.getresponse().status
            finally:
                c.close()

        assert status_from("127.0.0.3", {"X-Forwarded-User": "alice"}) == 200
        assert status_from("127.0.0.2", {"X-Forwarded-User": "alice"}) == 403
        assert status_from("127.0.0.3", {}) == 403
