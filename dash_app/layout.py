"""The page: a header with the connection state, the view controls, the chart area, the WebSocket.

Dash renders this static shell; the clientside code in ``assets/`` (namespace
``window.dash_clientside.metrics``) wires the controls with DOM listeners, keeps the view state in the
URL (``?hosts=…&window=1h&renderer=plotly&theme=dark``) and draws the charts: Chart.js by default, the
Plotly ``dcc.Graph`` below as the fallback (asked for, or when Chart.js did not load). The server never
sends data through Dash callbacks; data arrives on the WebSocket. See docs/page.md.
"""

from __future__ import annotations

import json
from typing import Any

from dash import ClientsideFunction, Dash, Input, Output, dcc, html
from dash_extensions import WebSocket

NAMESPACE = "metrics"

# (id, label): the same ids as WINDOWS in assets/metrics_view.js
WINDOWS = (("1m", "1 m"), ("5m", "5 m"), ("15m", "15 m"), ("1h", "1 h"), ("24h", "24 h"))
RENDERERS = (("chartjs", "Chart.js"), ("plotly", "Plotly"))
THEMES = (("auto", "Auto"), ("light", "Light"), ("dark", "Dark"))


def _aria(**attrs: str) -> dict[str, Any]:
    """``_aria(label="x")`` → ``{"aria-label": "x"}``: Dash takes these as keyword arguments."""
    return {f"aria-{k.replace('_', '-')}": v for k, v in attrs.items()}


def _data(**attrs: str) -> dict[str, Any]:
    """``_data(set_window="1m")`` → ``{"data-set-window": "1m"}``."""
    return {f"data-{k.replace('_', '-')}": v for k, v in attrs.items()}


def _segmented(label: str, kind: str, choices: tuple[tuple[str, str], ...], title: str) -> html.Div:
    return html.Div(
        className="segmented",
        role="group",
        title=title,
        **_aria(label=label),
        children=[
            html.Button(text, id=f"{kind}-{value}", type="button", className="seg",
                        **_data(**{f"set_{kind}": value}), **_aria(pressed="false"))
            for value, text in choices
        ],
    )


def build_layout(topic: str, bootstrap_servers: str) -> html.Div:
    # No dcc.Location: the clientside code owns the URL's query (history.replaceState); a Location
    # component would keep its own copy of it and push that back when it re-renders.
    return html.Div(
        id="page",
        className="page",
        children=[
            html.Header(
                className="header",
                children=[
                    html.H1("Live system metrics", className="title"),
                    html.Span(id="conn-state", className="badge badge-connecting", role="status",
                              **_aria(live="polite", atomic="true")),
                    html.Span(id="lag", className="detail",
                              title="End-to-end lag: arrival time minus sample time of the newest point, "
                                    "median over the last 10 s"),
                    html.Span(id="host-count", className="detail", **_aria(live="polite")),
                ],
            ),
            html.Div(
                id="toolbar",
                className="toolbar",
                role="group",
                **_aria(label="View controls"),
                children=[
                    html.Details(
                        id="host-picker",
                        className="picker",
                        children=[
                            html.Summary(id="host-summary", className="control picker-summary"),
                            html.Div(id="host-panel", className="picker-panel"),
                        ],
                    ),
                    _segmented("Time window", "window", WINDOWS, "Time window"),
                    html.Button("Pause", id="pause", type="button", className="control",
                                title="Pause drawing; data keeps arriving and is drawn on resume",
                                **_aria(pressed="false")),
                    _segmented("Renderer", "renderer", RENDERERS, "Chart library"),
                    _segmented("Theme", "theme", THEMES, "Colour theme (Auto follows the system)"),
                    html.Span(id="paused-note", className="detail", **_aria(live="polite")),
                ],
            ),
            html.P(id="empty-state", className="empty", role="status",
                   **_data(topic=topic, servers=bootstrap_servers)),
            html.Main(id="chartjs-root", className="charts", **_aria(label="Charts")),
            # Shown by CSS when body[data-renderer=plotly]. Empty until the Plotly renderer is first
            # used: the clientside code mounts PLOTLY_GRAPH there, so plotly.js (3.5 MB) is only
            # fetched and parsed by pages that draw with it.
            html.Div(id="plotly-root", className="plotly-root", **_data(graph=json.dumps(plotly_graph()))),
            dcc.Store(id="ws-url"),
            # The relay's frames arrive through this component and the clientside callback
            # `metrics.onSocket`; the page sets its url (from its own location) and reconnects it.
            WebSocket(id="ws"),
        ],
    )


def plotly_graph() -> dict[str, Any]:
    """The fallback's dcc.Graph as the JSON Dash mounts from the clientside (``set_props``)."""
    graph = dcc.Graph(
        id="plotly-graph",
        className="plotly-fallback",
        style={"height": "100%"},
        config={"displaylogo": False, "responsive": True},
        figure={"data": [], "layout": {"xaxis": {"type": "date"}, "uirevision": "keep"}},
    )
    return graph.to_plotly_json()


def register_callbacks(app: Dash) -> None:
    # Runs once, when the layout is on the page: the clientside code sets up the controls, renderer and
    # theme from the URL's view state and points the WebSocket component at the relay (URL from the
    # page's own location and Dash's prefix).
    app.clientside_callback(
        ClientsideFunction(namespace=NAMESPACE, function_name="connect"),
        Output("ws-url", "data"),
        Input("page", "id"),  # never changes: the callback runs once, at load
    )
    # Every frame from the relay, and every socket state change, lands here: the clientside code
    # decodes the frame and extends the charts; on open it answers with its hello (ready/resume).
    app.clientside_callback(
        ClientsideFunction(namespace=NAMESPACE, function_name="onSocket"),
        Output("ws", "send"),
        Input("ws", "message"),
        Input("ws", "state"),
    )
