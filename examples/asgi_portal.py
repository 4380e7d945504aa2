"""An ASGI portal (Starlette; FastAPI is the same) with the dashboard mounted at /tools/metrics/.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 python examples/asgi_portal.py
    # -> http://127.0.0.1:8000/  (log in, then follow the link)

What matters:
- mount the dashboard at the same path as its ``url_prefix``;
- run its lifespan from the portal's (Starlette does not run a mounted app's lifespan): it starts
  and stops the Kafka consumer;
- ``authorize`` lets the portal's own login decide for the page, the Dash callbacks, healthz,
  metrics and the WebSocket. Here the portal's session (SessionMiddleware wraps the mount, so the
  dashboard's requests carry it).
"""

from __future__ import annotations

import contextlib
import html
import os
import secrets
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.routing import Mount, Route

from dash_app.app import create_app

PREFIX = "/tools/metrics/"


def signed_in(conn: HTTPConnection) -> bool:
    """The dashboard asks this for every request and WebSocket handshake under its prefix."""
    return bool(conn.session.get("user"))


metrics = create_app(url_prefix=PREFIX, authorize=signed_in)


async def home(request: Request) -> HTMLResponse:
    user = request.session.get("user")
    if not user:
        return HTMLResponse('<h1>Portal</h1><form action="/login"><input name="user" placeholder="name">'
                            "<button>Log in (demo: replace with your SSO)</button></form>")
    return HTMLResponse(f"<h1>Portal</h1><p>Hello {html.escape(user)}.</p>"
                        f'<p><a id="metrics" href="{PREFIX}">Live system metrics</a> · <a href="/logout">log out</a>')


async def login(request: Request) -> RedirectResponse:
    user = request.query_params.get("user", "").strip()
    if user:
        request.session["user"] = user[:64]
    return RedirectResponse("/", status_code=303)


async def logout(request: Request) -> RedirectResponse:
    request.session.clear()
    return RedirectResponse("/", status_code=303)


@contextlib.asynccontextmanager
async def lifespan(portal: Starlette) -> AsyncIterator[None]:
    async with metrics.router.lifespan_context(metrics):  # the dashboard's consumer and ticker
        yield


app = Starlette(
    routes=[
        Route("/", home),
        Route("/login", login),
        Route("/logout", logout),
        Mount(PREFIX.rstrip("/"), app=metrics),
    ],
    middleware=[
        Middleware(SessionMiddleware, secret_key=os.environ.get("PORTAL_SECRET_KEY") or secrets.token_hex(32),
                   same_site="lax", https_only=False),
    ],
    lifespan=lifespan,
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=8000, ws="websockets-sansio")
