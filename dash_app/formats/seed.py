"""The seed tutorial's Elixir producer: key = series label, value = the number as text.

Its producer (Kaffe) sends, every two seconds::

    Kaffe.Producer.produce_sync("Memory used by processes (MB)", to_string(:erlang.memory(:processes_used)/(1024*1024)))
    Kaffe.Producer.produce_sync("CPU utilization (%)", to_string(:cpu_sup.util()))

so a message is e.g. key ``CPU utilization (%)``, value ``12.5`` (Elixir's shortest float text,
``1.0e-5`` for small numbers). It names no host and no time: the host comes from configuration
(``seed_host``) and the time is the Kafka message timestamp.
"""

from __future__ import annotations

import math
import re

from .errors import FormatError
from .options import FormatOptions
from .points import CONTROL, Point

_NUMBER = re.compile(rb"[ \t\r\n]*(-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)[ \t\r\n]*\Z")
_MAX_VALUE_LEN = 64


def looks_like_seed(value: bytes) -> bool:
    """A value that is only a number: never valid line protocol or JSON object, so unambiguous."""
    return len(value) <= _MAX_VALUE_LEN and _NUMBER.match(value) is not None


def parse(value: bytes, key: bytes | None, kafka_ts_ms: int | None, options: FormatOptions) -> Point:
    m = _NUMBER.match(value) if len(value) <= _MAX_VALUE_LEN else None
    if m is None:
        raise FormatError("seed_bad_value", repr(value[:40]))
    number = float(m.group(1))
    if not math.isfinite(number):
        raise FormatError("seed_bad_value", repr(value[:40]))
    if not key:
        raise FormatError("seed_no_key", "a number without a key (the series label)")
    try:
        label = key.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError("seed_bad_key", repr(key[:80])) from None
    if len(label) > options.max_name_len or CONTROL.search(label) or not label.strip():
        raise FormatError("seed_bad_key", repr(label[:80]))
    if kafka_ts_ms is None or kafka_ts_ms <= 0:
        raise FormatError("seed_no_ts", "the seed's format needs the Kafka message timestamp")
    return Point(options.seed_host, kafka_ts_ms, None, "", {label: number})
