"""One ASGI middleware in front of the whole dashboard: who may see it, who may frame it, who may talk.

For every request under the guarded prefix (page, assets, Dash callbacks, ``healthz``, ``metrics``,
the WebSocket handshake; anything the dashboard serves) the same :meth:`Policy.decide` runs:

- no method configured → allowed (the default for ``make run`` on loopback);
- otherwise any method that accepts is enough: a user header from a trusted proxy address, the
  shared bearer token, HTTP basic credentials, or the portal's ``authorize(connection)`` hook;
- refused: 401 with a ``WWW-Authenticate`` challenge when no credentials came and a token/basic
  scheme is configured, else 403. A WebSocket handshake gets the same status as an HTTP response
  (``websocket.http.response``) or, where the server lacks that extension, a close before accept.

WebSockets also get an ``Origin`` check (cross-site WebSocket hijacking: a page on another site
riding the user's cookies or proxy session) → accept, then close with :data:`CLOSE_ORIGIN`, so
the page can tell "refused" from "network down". Inbound messages are limited in size
(:data:`CLOSE_TOO_BIG`) and rate (:data:`CLOSE_RATE`). HTTP responses get
``Content-Security-Policy: frame-ancestors …`` and ``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hmac
import inspect
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .config import DashboardConfig
from .ratelimit import RateLimitedLog

log = logging.getLogger(__name__)

CLOSE_ORIGIN = 4403  # the page's origin is not allowed to open this WebSocket
CLOSE_TOO_BIG = 1009  # RFC 6455 "message too big"
CLOSE_RATE = 1008  # RFC 6455 "policy violation": too many messages
REALM = "metrics dashboard"

Authorize = Callable[[HTTPConnection], bool | Awaitable[bool]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Decision(enum.Enum):
    ALLOW = 200
    UNAUTHENTICATED = 401  # nothing presented: ask for credentials
    FORBIDDEN = 403  # presented and wrong, or the hook / proxy said no


@dataclass(frozen=True)
class Policy:
    """The security settings of one app, from :class:`DashboardConfig` plus the portal's hook."""

    guard_prefix: str = "/"
    frame_ancestors: str = "'self'"
    allowed_origins: tuple[str, ...] = ()
    auth_token: str = field(default="", repr=False)
    basic_auth: str = field(default="", repr=False)
    trusted_proxies: tuple[Network, ...] = ()
    proxy_user_header: str = "X-Forwarded-User"
    authorize: Authorize | None = None
    ws_max_message_bytes: int = 16384
    ws_rate_limit: float = 10.0

    @classmethod
    def from_config(cls, config: DashboardConfig, authorize: Authorize | None = None) -> Policy:
        return cls(
            guard_prefix=config.url_prefix,
            frame_ancestors=config.frame_ancestors,
            allowed_origins=config.allowed_origins,
            auth_token=config.auth_token,
            basic_auth=config.basic_auth,
            trusted_proxies=tuple(ipaddress.ip_network(n) for n in config.trusted_proxies),
            proxy_user_header=config.proxy_user_header,
            authorize=authorize,
            ws_max_message_bytes=config.ws_max_message_bytes,
            ws_rate_limit=config.ws_rate_limit,
        )

    @property
    def auth_enabled(self) -> bool:
        return bool(self.auth_token or self.basic_auth or self.trusted_proxies or self.authorize)

    def guards(self, path: str) -> bool:
        return path.startswith(self.guard_prefix) or path == self.guard_prefix.rstrip("/")

    # -- authentication ------------------------------------------------------------------------
    def trusted_proxy(self, conn: HTTPConnection) -> bool:
        if not self.trusted_proxies or conn.client is None:
            return False
        try:
            address = ipaddress.ip_address(conn.client.host)
        except ValueError:
            return False  # a unix socket or a test client without an address
        return any(address in network for network in self.trusted_proxies)

    async def decide(self, conn: HTTPConnection) -> tuple[Decision, str]:
        """(decision, who): who is the user name, "token", or why it was refused (for the log)."""
        if not self.auth_enabled:
            return Decision.ALLOW, "anonymous (auth off)"
        if self.trusted_proxies:
            user = conn.headers.get(self.proxy_user_header, "").strip()
            if user and self.trusted_proxy(conn):
                return Decision.ALLOW, user
        presented = False
        scheme, _, credentials = conn.headers.get("authorization", "").strip().partition(" ")
        scheme, credentials = scheme.lower(), credentials.strip()
        if self.auth_token and scheme == "bearer":
            presented = True
            if hmac.compare_digest(credentials.encode(), self.auth_token.encode()):
                return Decision.ALLOW, "token"
        if self.basic_auth and scheme == "basic":
            presented = True
            basic_user = _check_basic(credentials, self.basic_auth)
            if basic_user is not None:
                return Decision.ALLOW, basic_user
        if self.authorize is not None:
            try:
                verdict = await _call_hook(self.authorize, conn)
            except Exception:
                log.exception("authorize() hook failed; refusing %s", conn.url.path)
                return Decision.FORBIDDEN, "authorize() hook raised"
            if verdict is True:
                return Decision.ALLOW, "authorize() hook"
            if not isinstance(verdict, bool):
                log.error("authorize() must return a bool, got %r: refusing", type(verdict).__name__)
        if presented:
            return Decision.FORBIDDEN, "wrong credentials"
        if self.auth_token or self.basic_auth:
            return Decision.UNAUTHENTICATED, "no credentials"
        return Decision.FORBIDDEN, "not authorized"

    def challenge(self) -> list[tuple[bytes, bytes]]:
        schemes = (["Basic"] if self.basic_auth else []) + (["Bearer"] if self.auth_token else [])
        return [(b"www-authenticate", f'{s} realm="{REALM}"'.encode()) for s in schemes]

    # -- origins --------------------------------------------------------------------------------
    def origin_allowed(self, conn: HTTPConnection) -> bool:
        """Browsers always send Origin on WebSocket handshakes; clients without one (curl, scripts)
        cannot be driven by another site, so they pass (auth still applies to them)."""
        header = conn.headers.get("origin")
        if header is None:
            return True
        origin = header.strip().lower()
        if "*" in self.allowed_origins or _normalised(origin) in self.allowed_origins:
            return True
        hosts = [conn.headers.get("host", "")]
        if self.trusted_proxy(conn):
            hosts += [h.strip() for h in conn.headers.get("x-forwarded-host", "").split(",") if h.strip()]
        return any(_same_host(origin, host) for host in hosts)

    # -- headers --------------------------------------------------------------------------------
    def response_headers(self) -> list[tuple[bytes, bytes]]:
        headers = [
            (b"content-security-policy", f"frame-ancestors {self.frame_ancestors}".encode()),
            (b"x-content-type-options", b"nosniff"),
        ]
        legacy = {"'self'": b"SAMEORIGIN", "'none'": b"DENY"}.get(self.frame_ancestors)
        if legacy is not None:  # browsers without CSP level 2; with other origins it must be absent
            headers.append((b"x-frame-options", legacy))
        return headers


async def _call_hook(hook: Authorize, conn: HTTPConnection) -> object:
    if inspect.iscoroutinefunction(hook):
        return await hook(conn)
    result = await run_in_threadpool(hook, conn)  # a sync hook may block on a session store
    return await result if inspect.isawaitable(result) else result


def _check_basic(credentials: str, expected: str) -> str | None:
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user = decoded.partition(":")[0]
    return user if hmac.compare_digest(decoded.encode(), expected.encode()) else None


_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _normalised(origin: str) -> str:
    parts = urlsplit(origin)
    try:
        port = parts.port
    except ValueError:
        return origin
    default = _DEFAULT_PORTS.get(parts.scheme)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


def _same_host(origin: str, host_header: str) -> bool:
    """Origin ``https://a.example:8443`` vs Host ``a.example:8443``. The scheme is not compared (a
    TLS-terminating proxy turns https into http); a Host without a port means the origin's default."""
    o = urlsplit(origin)
    h = urlsplit("//" + host_header.strip().lower())
    try:
        o_port, h_port = o.port, h.port
    except ValueError:
        return False
    default = _DEFAULT_PORTS.get(o.scheme)
    if not o.hostname or default is None or o.hostname != h.hostname:
        return False
    return (h_port or default) == (o_port or default)


class _TokenBucket:
    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.capacity = 2 * rate
        self.tokens = self.capacity
        self._clock = clock
        self._last = clock()

    def take(self) -> bool:
        now = self._clock()
        self.tokens = min(self.capacity, self.tokens + (now - self._last) * self.rate)
        self._last = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class SecurityMiddleware:
    """ASGI middleware applying a :class:`Policy` to every HTTP request and WebSocket under its prefix."""

    def __init__(self, app: ASGIApp, policy: Policy, clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.policy = policy
        self._clock = clock
        self._refusals = RateLimitedLog(log)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self.policy.guards(scope["path"]):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        decision, who = await self.policy.decide(conn)
        if decision is not Decision.ALLOW:
            self._refusals.warning("refused %s %s from %s: %s (%d)", scope["type"], scope["path"],
                                   conn.client.host if conn.client else "?", who, decision.value)
            if scope["type"] == "http":
                await self._http_refusal(decision, send)
            else:
                await self._ws_refusal(decision, scope, send)
            return
        scope.setdefault("state", {})["user"] = who
        if scope["type"] == "http":
            await self.app(scope, receive, self._with_headers(send))
            return
        if not self.policy.origin_allowed(conn):
            self._refusals.warning("refused WebSocket %s from origin %r (host %r)", scope["path"],
                                   conn.headers.get("origin"), conn.headers.get("host"))
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": CLOSE_ORIGIN, "reason": "origin not allowed"})
            return
        await _LimitedSocket(self.policy, self._clock).run(self.app, scope, receive, send)

    def _with_headers(self, send: Send) -> Send:
        extra = self.policy.response_headers()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in message.get("headers", [])}
                message = {**message, "headers": [*message.get("headers", []),
                                                  *(h for h in extra if h[0] not in names)]}
            await send(message)

        return send_with_headers

    async def _http_refusal(self, decision: Decision, send: Send) -> None:
        body = b"authentication required\n" if decision is Decision.UNAUTHENTICATED else b"forbidden\n"
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
                   (b"cache-control", b"no-store"), *self.policy.response_headers()]
        if decision is Decision.UNAUTHENTICATED:
            headers += self.policy.challenge()
        await send({"type": "http.response.start", "status": decision.value, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _ws_refusal(self, decision: Decision, scope: Scope, send: Send) -> None:
        if "websocket.http.response" in scope.get("extensions", {}):
            body = decision.name.lower().encode() + b"\n"
            headers = [(b"content-type", b"text/plain; charset=utf-8"),
                       (b"content-length", str(len(body)).encode())]
            if decision is Decision.UNAUTHENTICATED:
                headers += self.policy.challenge()
            await send({"type": "websocket.http.response.start", "status": decision.value, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
        else:  # the server answers a close before accept with HTTP 403
            await send({"type": "websocket.close", "code": CLOSE_RATE})


class _LimitedSocket:
    """Wraps one WebSocket's receive/send: too big or too many inbound messages close it."""

    def __init__(self, policy: Policy, clock: Callable[[], float]) -> None:
        self.max_bytes = policy.ws_max_message_bytes
        self.bucket = _TokenBucket(policy.ws_rate_limit, clock)
        self.closed_by_us = False

    async def run(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        async def limited_receive() -> Message:
            if self.closed_by_us:
                return {"type": "websocket.disconnect", "code": 1000}
            message = await receive()
            if message["type"] != "websocket.receive":
                return message
            data: Any = message.get("text")
            size = len(data.encode()) if data is not None else len(message.get("bytes") or b"")
            if size > self.max_bytes:
                return await self._close(send, CLOSE_TOO_BIG, f"message too big ({size} > {self.max_bytes} bytes)")
            if not self.bucket.take():
                return await self._close(send, CLOSE_RATE, "too many messages")
            return message

        async def guarded_send(message: Message) -> None:
            if not self.closed_by_us:  # the app may still be sending when we closed the socket
                await send(message)

        await app(scope, limited_receive, guarded_send)

    async def _close(self, send: Send, code: int, reason: str) -> Message:
        self.closed_by_us = True
        log.info("closing WebSocket: %s", reason)
        try:
            await send({"type": "websocket.close", "code": code, "reason": reason[:120]})
        except Exception:  # already gone: nothing more to tell it
            log.debug("close after violation failed", exc_info=True)
        return {"type": "websocket.disconnect", "code": code}
