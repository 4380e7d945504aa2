"""WebSocket frames between the relay and the page (docs/protocol.md, "WebSocket frames")."""

from __future__ import annotations

from typing import Any, Literal

import orjson

from .store import Batch

PROTOCOL_VERSION = 1
MAX_CLIENT_MESSAGE_BYTES = 4096

ClientRequest = Literal["ready", "resync"]


def series_list(batch: Batch) -> list[dict[str, object]]:
    return [
        {"host": host, "metric": metric, "ts": ts, "y": y}
        for (host, metric), (ts, y) in batch.points.items()
    ]


def data_frame(seq: int, batch: Batch, status: dict[str, Any] | None) -> bytes:
    frame: dict[str, Any] = {"type": "data", "seq": seq, "series": series_list(batch)}
    if status is not None:
        frame["status"] = status
    return orjson.dumps(frame)


def snapshot_frame(seq: int, series: list[dict[str, object]], status: dict[str, Any]) -> bytes:
    return orjson.dumps(
        {"type": "snapshot", "v": PROTOCOL_VERSION, "seq": seq, "series": series, "status": status}
    )


def error_frame(error: str) -> bytes:
    return orjson.dumps({"type": "error", "error": error})


class ClientMessageError(ValueError):
    """The client sent something this protocol version does not understand."""


def parse_client_message(text: str) -> ClientRequest:
    if len(text) > MAX_CLIENT_MESSAGE_BYTES:
        raise ClientMessageError("message too large")
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ClientMessageError("not JSON") from None
    kind = doc.get("type") if isinstance(doc, dict) else None
    if kind == "ready":
        return "ready"
    if kind == "resync":
        return "resync"
    raise ClientMessageError(f"unknown message type {str(kind)[:40]!r}")
