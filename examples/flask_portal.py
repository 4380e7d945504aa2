"""A Flask portal with the dashboard registered on it at /tools/metrics/.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 python examples/flask_portal.py
    # -> http://127.0.0.1:8000/  (log in, then follow the link)

``create_app(server=portal, ...)`` puts the Dash page and callbacks on the portal's Flask app and
returns an ASGI app that serves the portal (all its routes) plus the dashboard's WebSocket, healthz
and metrics. Serve *that* with an ASGI server (uvicorn): a WSGI server (gunicorn sync workers,
mod_wsgi) cannot carry a WebSocket.

``authorize`` checks the portal's own signed session cookie, so one login covers the portal and
the dashboard's page, callbacks and WebSocket.
"""

from __future__ import annotations

import html
import os
import secrets

import flask
import uvicorn
from flask.sessions import SecureCookieSessionInterface
from flask.typing import ResponseReturnValue
from itsdangerous import BadSignature
from starlette.requests import HTTPConnection

from dash_app.app import create_app

PREFIX = "/tools/metrics/"

portal = flask.Flask("portal")
portal.secret_key = os.environ.get("PORTAL_SECRET_KEY") or secrets.token_hex(32)


@portal.route("/")
def home() -> str:
    user = flask.session.get("user")
    if not user:
        return ('<h1>Portal</h1><form action="/login"><input name="user" placeholder="name">'
                "<button>Log in (demo: replace with your SSO)</button></form>")
    return (f"<h1>Portal</h1><p>Hello {html.escape(user)}.</p>"
            f'<p><a id="metrics" href="{PREFIX}">Live system metrics</a> · <a href="/logout">log out</a>')


@portal.route("/login")
def login() -> ResponseReturnValue:
    user = flask.request.args.get("user", "").strip()
    if user:
        flask.session["user"] = user[:64]
    return flask.redirect("/", code=303)


@portal.route("/logout")
def logout() -> ResponseReturnValue:
    flask.session.clear()
    return flask.redirect("/", code=303)


def signed_in(conn: HTTPConnection) -> bool:
    """Read the portal's Flask session cookie (signed with its secret key) from the request."""
    serializer = SecureCookieSessionInterface().get_signing_serializer(portal)
    cookie = conn.cookies.get(portal.config["SESSION_COOKIE_NAME"])
    if serializer is None or not cookie:
        return False
    max_age = int(portal.permanent_session_lifetime.total_seconds())
    try:
        session = serializer.loads(cookie, max_age=max_age)
    except BadSignature:  # includes expired
        return False
    return bool(session.get("user"))


app = create_app(server=portal, url_prefix=PREFIX, authorize=signed_in)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=8000, ws="websockets-sansio")
