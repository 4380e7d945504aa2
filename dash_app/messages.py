"""Decoding of the v1 Kafka message (docs/protocol.md) into samples the store can hold."""

from __future__ import annotations

import math
from dataclasses import dataclass

import orjson

from .errors import BadMessage

MAX_HOST_LEN = 255
MAX_METRIC_LEN = 200
MAX_METRICS_PER_MESSAGE = 2000


@dataclass(frozen=True, slots=True)
class Sample:
    host: str
    ts: int  # sample time, epoch ms
    seq: int | None
    metrics: dict[str, float]
    skipped_metrics: int = 0  # values that were not finite numbers


def decode(value: bytes | str | None) -> Sample:
    """Parse one message value. Raises :class:`BadMessage` with a stable ``reason`` label.

    Extra fields and extra metrics are accepted (forward compatibility); a metric whose value is not
    a finite number is skipped and counted rather than failing the whole message.
    """
    if value is None:
        raise BadMessage("empty", "tombstone / null value")
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise BadMessage("not_json", str(exc)) from None
    if not isinstance(doc, dict):
        raise BadMessage("not_object", type(doc).__name__)
    version = doc.get("v")
    if version != 1 or isinstance(version, bool):
        raise BadMessage("unsupported_version", repr(version)[:40])
    host = doc.get("host")
    if not isinstance(host, str) or not host or len(host) > MAX_HOST_LEN:
        raise BadMessage("bad_host", repr(host)[:80])
    ts = doc.get("ts")
    if not isinstance(ts, int) or isinstance(ts, bool) or ts <= 0:
        raise BadMessage("bad_ts", repr(ts)[:40])
    seq = doc.get("seq")
    if seq is not None and (not isinstance(seq, int) or isinstance(seq, bool)):
        raise BadMessage("bad_seq", repr(seq)[:40])
    raw = doc.get("metrics")
    if not isinstance(raw, dict):
        raise BadMessage("bad_metrics", type(raw).__name__)
    if len(raw) > MAX_METRICS_PER_MESSAGE:
        raise BadMessage("too_many_metrics", str(len(raw)))
    metrics: dict[str, float] = {}
    skipped = 0
    for name, v in raw.items():
        if (
            not name
            or len(name) > MAX_METRIC_LEN
            or isinstance(v, bool)
            or not isinstance(v, int | float)
            or not math.isfinite(v)
        ):
            skipped += 1
            continue
        metrics[name] = float(v)
    return Sample(host=host, ts=ts, seq=seq, metrics=metrics, skipped_metrics=skipped)
