"""The page: a header with the connection state, the chart area, the WebSocket component.

Charts are drawn by the clientside code in ``assets/`` (namespace ``window.dash_clientside.metrics``):
Chart.js by default, the Plotly ``dcc.Graph`` below with ``?renderer=plotly`` (or when Chart.js did not
load). The server never sends data through Dash callbacks; data arrives on the WebSocket.
"""

from __future__ import annotations

from dash import ClientsideFunction, Dash, Input, Output, dcc, html
from dash_extensions import WebSocket

NAMESPACE = "metrics"


def build_layout(topic: str, bootstrap_servers: str) -> html.Div:
    return html.Div(
        className="page",
        children=[
            dcc.Location(id="url", refresh=False),
            html.Header(
                className="header",
                children=[
                    html.H1("Live system metrics", className="title"),
                    html.Span(
                        "connecting",
                        id="conn-state",
                        className="badge badge-connecting",
                        role="status",
                        **{"aria-live": "polite", "aria-label": "connection state"},  # type: ignore[arg-type]
                    ),
                    html.Span(id="conn-detail", className="detail"),
                ],
            ),
            html.P(
                f"No data on topic {topic} from {bootstrap_servers} yet — is the producer running?",
                id="empty-state",
                className="empty",
            ),
            html.Div(id="chartjs-root", className="charts"),
            dcc.Graph(
                id="plotly-graph",
                className="plotly-fallback",
                style={"display": "none", "height": "480px"},
                config={"displaylogo": False, "responsive": True},
                figure={
                    "data": [],
                    "layout": {
                        "xaxis": {"type": "date", "title": {"text": "sample time"}},
                        "yaxis": {"title": {"text": "value"}},
                        "margin": {"l": 50, "r": 20, "t": 20, "b": 40},
                        "legend": {"orientation": "h"},
                        "uirevision": "keep",
                    },
                },
            ),
            WebSocket(id="ws"),
        ],
    )


def register_callbacks(app: Dash) -> None:
    # Runs once on load: the socket URL comes from the page's own location and Dash's prefix.
    app.clientside_callback(
        ClientsideFunction(namespace=NAMESPACE, function_name="connect"),
        Output("ws", "url"),
        Input("url", "href"),
    )
    app.clientside_callback(
        ClientsideFunction(namespace=NAMESPACE, function_name="onMessage"),
        Output("ws", "send"),
        Output("plotly-graph", "extendData"),
        Output("conn-state", "children"),
        Output("conn-state", "className"),
        Input("ws", "message"),
        Input("ws", "state"),
    )
