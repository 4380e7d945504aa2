"""WebSocket frames between the relay and the page (docs/protocol.md, "WebSocket frames")."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from .store import Batch, SeriesKey

PROTOCOL_VERSION = 2
MAX_CLIENT_MESSAGE_BYTES = 4096
MAX_PATTERNS = 50
MAX_PATTERN_LEN = 200
MAX_CLIENT_INTERVAL_S = 60.0
MAX_WINDOW_S = 86_400
MAX_RES_S = 3_600
MAX_RES_OVER = 100_000_000


@dataclass(frozen=True)
class Subscription:
    """What one client wants: host and metric patterns (fnmatch, empty = all) and its frame rate."""

    hosts: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    interval: float = 0.0  # least seconds between data frames; 0 = every tick
    window: int = 0  # seconds of history in the snapshot; 0 = the raw window
    res: int = 0  # least bucket width (s) of the snapshot; 0 = raw points when the raw window covers it
    res_over: int = 0  # ... applied only when the raw snapshot would hold more points than this
    _host_re: re.Pattern[str] | None = field(default=None, compare=False, hash=False, repr=False)
    _metric_re: re.Pattern[str] | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_host_re", _compile(self.hosts))
        object.__setattr__(self, "_metric_re", _compile(self.metrics))

    def matches(self, key: SeriesKey) -> bool:
        host, metric = key
        return (self._host_re is None or self._host_re.match(host) is not None) and (
            self._metric_re is None or self._metric_re.match(metric) is not None
        )

    @property
    def everything(self) -> bool:
        return not self.hosts and not self.metrics

    @property
    def keep(self) -> Callable[[SeriesKey], bool] | None:
        """The series filter for store and batch calls; None (no test per series) for everything."""
        return None if self.everything else self.matches


def _compile(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns))


ALL = Subscription()


@dataclass(frozen=True)
class ClientRequest:
    kind: Literal["ready", "resync", "resume", "subscribe"]
    subscription: Subscription | None = None  # None: keep the current one
    epoch: str | None = None
    seq: int | None = None


class ClientMessageError(ValueError):
    """The client sent something this protocol version does not understand."""


def series_list(batch: Batch) -> list[dict[str, object]]:
    return [
        {"host": host, "metric": metric, "ts": ts, "y": y}
        for (host, metric), (ts, y) in batch.points.items()
    ]


def data_frame(seq: int, prev: int, batch: Batch, status: dict[str, Any] | None) -> bytes:
    frame: dict[str, Any] = {"type": "data", "seq": seq, "prev": prev, "series": series_list(batch)}
    if status is not None:
        frame["status"] = status
    return orjson.dumps(frame)


def snapshot_frame(epoch: str, seq: int, series: list[dict[str, object]], status: dict[str, Any]) -> bytes:
    return orjson.dumps({"type": "snapshot", "v": PROTOCOL_VERSION, "epoch": epoch, "seq": seq,
                         "series": series, "status": status})


def catchup_frame(epoch: str, since: int, seq: int, batch: Batch) -> bytes:
    return orjson.dumps({"type": "catchup", "epoch": epoch, "from": since, "seq": seq,
                         "series": series_list(batch)})


def gap_frame(seq: int, latest: Batch, reason: str) -> bytes:
    return orjson.dumps({"type": "gap", "seq": seq, "reason": reason, "series": series_list(latest)})


def error_frame(error: str) -> bytes:
    return orjson.dumps({"type": "error", "error": error})


def _patterns(doc: dict[str, Any], name: str) -> tuple[str, ...]:
    value = doc.get(name, [])
    if not isinstance(value, list) or len(value) > MAX_PATTERNS or not all(
        isinstance(p, str) and 0 < len(p) <= MAX_PATTERN_LEN for p in value
    ):
        raise ClientMessageError(f"{name!r} must be a list of at most {MAX_PATTERNS} non-empty strings")
    return tuple(value)


def _subscription(doc: dict[str, Any]) -> Subscription | None:
    if not any(k in doc for k in ("hosts", "metrics", "topics", "interval", "window", "res", "res_over")):
        return None
    hosts = list(_patterns(doc, "hosts"))
    metrics = list(_patterns(doc, "metrics"))
    for topic in _patterns(doc, "topics"):  # the seed's channel names: "host:web-1", "metric:cpu.*"
        kind, _, pattern = topic.partition(":")
        if kind == "host" and pattern:
            hosts.append(pattern)
        elif kind == "metric" and pattern:
            metrics.append(pattern)
        else:
            raise ClientMessageError(f"topic {topic[:40]!r} is not host:<pattern> or metric:<pattern>")
    interval = doc.get("interval", 0)
    bad = isinstance(interval, bool) or not isinstance(interval, int | float)
    if bad or not 0 <= interval <= MAX_CLIENT_INTERVAL_S:
        raise ClientMessageError(f"'interval' must be a number of seconds from 0 to {MAX_CLIENT_INTERVAL_S:g}")
    window = doc.get("window", 0)
    if isinstance(window, bool) or not isinstance(window, int) or not 0 <= window <= MAX_WINDOW_S:
        raise ClientMessageError(f"'window' must be whole seconds from 0 to {MAX_WINDOW_S}")
    res = doc.get("res", 0)
    if isinstance(res, bool) or not isinstance(res, int) or not 0 <= res <= MAX_RES_S:
        raise ClientMessageError(f"'res' must be whole seconds from 0 to {MAX_RES_S}")
    res_over = doc.get("res_over", 0)
    if isinstance(res_over, bool) or not isinstance(res_over, int) or not 0 <= res_over <= MAX_RES_OVER:
        raise ClientMessageError(f"'res_over' must be a whole number of points from 0 to {MAX_RES_OVER}")
    return Subscription(tuple(hosts), tuple(metrics), float(interval), window, res, res_over)


def parse_subscription(text: str) -> Subscription:
    """The subscription of ``<prefix>snapshot?sub=…`` (the JSON fields of a ``ready``); empty = everything."""
    if len(text) > MAX_CLIENT_MESSAGE_BYTES:
        raise ClientMessageError("subscription too large")
    try:
        doc = orjson.loads(text or "{}")
    except orjson.JSONDecodeError:
        raise ClientMessageError("subscription is not JSON") from None
    if not isinstance(doc, dict):
        raise ClientMessageError("subscription must be a JSON object")
    return _subscription(doc) or ALL


def parse_client_message(text: str) -> ClientRequest:
    if len(text) > MAX_CLIENT_MESSAGE_BYTES:
        raise ClientMessageError("message too large")
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ClientMessageError("not JSON") from None
    kind = doc.get("type") if isinstance(doc, dict) else None
    if kind in ("ready", "subscribe"):
        return ClientRequest(kind, _subscription(doc))
    if kind == "resync":
        return ClientRequest("resync")
    if kind == "resume":
        epoch, seq = doc.get("epoch"), doc.get("seq")
        if not isinstance(epoch, str) or not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise ClientMessageError("'resume' needs a string 'epoch' and an integer 'seq' >= 0")
        return ClientRequest("resume", _subscription(doc), epoch=epoch, seq=seq)
    raise ClientMessageError(f"unknown message type {str(kind)[:40]!r}")
