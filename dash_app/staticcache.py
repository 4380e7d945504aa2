"""Dash's fingerprinted static files (component bundles, ``assets/`` with ``?m=``) served from memory.

A cold page load asks for ~20 scripts at once. Through Flask (a2wsgi's thread pool, Dash's handlers,
one GIL shared with the Kafka consumer and the relay) each cost the process ~3 ms of CPU, and the
page's DOMContentLoaded waited on the last of them. A fingerprinted URL names one version of a file,
so its first plain response (200, to a request without conditional or range headers) is kept and
answered again without Flask.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Dash's fingerprints: ".../_dash-component-suites/dash/dcc/dash_core_components.v4_4_1m1796425246.js"
# and ".../assets/x.js?m=1796425183.98"; anything else (the page, callbacks, layout) goes through.
_FINGERPRINTED = re.compile(r"/_dash-component-suites/.+\.v\w+m\d+\.\w+$")
_ASSET_QUERY = re.compile(r"^m=[\d.]+$")
_CONDITIONAL = (b"if-none-match", b"if-modified-since", b"range", b"if-range")
MAX_BYTES = 64 << 20  # all of Dash's and our files (plotly.js included) take ~6 MB


class StaticCache:
    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.assets = prefix + "assets/"
        self.responses: dict[str, tuple[Message, bytes]] = {}
        self.size = 0

    def key(self, scope: Scope) -> str | None:
        """The cache key of a request, or None when it is not a fingerprinted static file."""
        if scope["type"] != "http" or scope["method"] != "GET":
            return None
        if any(name.lower() in _CONDITIONAL for name, _ in scope["headers"]):
            return None
        path: str = scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        if not query and _FINGERPRINTED.search(path):
            return path
        if path.startswith(self.assets) and _ASSET_QUERY.match(query):
            return path + "?" + query
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = self.key(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        hit = self.responses.get(key)
        if hit is not None:
            start, body = hit
            # a copy: middleware outside may add headers to the message it is given
            await send({**start, "headers": list(start["headers"])})
            await send({"type": "http.response.body", "body": body})
            return
        start_msg: Message = {}
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            nonlocal start_msg
            if message["type"] == "http.response.start":
                start_msg = {**message, "headers": list(message.get("headers", []))}
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False) and start_msg.get("status") == 200:
                    body = b"".join(chunks)
                    if key not in self.responses and self.size + len(body) <= MAX_BYTES:
                        # the server adds its own Date to each response
                        headers = [(k, v) for k, v in start_msg["headers"] if k.lower() != b"date"]
                        self.responses[key] = ({**start_msg, "headers": headers}, body)
                        self.size += len(body)
            await send(message)

        await self.app(scope, receive, keep)
