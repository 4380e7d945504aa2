"""The v1 Kafka message (docs/protocol.md): key = host id as UTF-8, value = one JSON object per sample."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import orjson

VERSION = 1


@dataclass(frozen=True)
class Sample:
    """One reading of all enabled samplers.

    `ts_ms` is the wall-clock time the numbers were read (epoch milliseconds), not the send time.
    """

    host: str
    ts_ms: int
    seq: int
    metrics: Mapping[str, float] = field(default_factory=dict)


def key(host: str) -> bytes:
    """The message key: every sample of one host lands on one partition, in order."""
    return host.encode("utf-8")


def encode(sample: Sample) -> bytes:
    """The message value, compact JSON.

    Values that are not finite numbers are left out: JSON has no NaN/inf (orjson would write `null`),
    and readers would skip them anyway.
    """
    metrics = {name: float(v) for name, v in sample.metrics.items() if math.isfinite(float(v))}
    return orjson.dumps(
        {
            "v": VERSION,
            "host": sample.host,
            "ts": int(sample.ts_ms),
            "seq": int(sample.seq),
            "metrics": metrics,
        }
    )
