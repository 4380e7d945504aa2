"""Our own v1 JSON message (docs/protocol.md), decoded by :func:`dash_app.messages.decode`."""

from __future__ import annotations

from ..errors import BadMessage
from ..messages import decode
from .errors import FormatError
from .points import Point


def parse(value: bytes | None) -> Point:
    try:
        sample = decode(value)
    except FormatError:
        raise
    except BadMessage as exc:  # same reason labels as before formats existed
        raise FormatError(exc.reason, exc.detail) from None
    return Point(sample.host, sample.ts, None, "", sample.metrics, sample.skipped_metrics, sample.seq)
