"""Standalone: the dashboard as an app of its own, from code (what ``python -m dash_app`` does).

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 DASH_URL_PREFIX=/ python examples/standalone.py
    # -> http://127.0.0.1:8050/

Every setting comes from the environment (docs/configuration.md) and can be overridden by name.
Run it with any ASGI server instead: ``uvicorn examples.standalone:app --ws websockets-sansio``.
"""

from __future__ import annotations

import uvicorn

from dash_app.app import create_app

app = create_app(topic="system-metrics")  # DASH_* / KAFKA_* from the environment, then these

if __name__ == "__main__":
    config = app.state.config
    uvicorn.run(
        app,
        host=config.host,
        port=config.port,
        ws="websockets-sansio",
        # Let the server drop huge WebSocket messages before they are buffered (the app's own
        # limit, DASH_WS_MAX_MESSAGE_BYTES, applies in any server).
        ws_max_size=config.ws_max_message_bytes,
    )
