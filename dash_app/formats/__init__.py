"""Decoders for every producer the dashboard reads (docs/formats.md).

Formats: our v1 JSON, Influx line protocol (Telegraf's default), Telegraf's JSON serializer and the
seed tutorial's Elixir producer (key = label, value = number as text). Detected per record, or
forced per topic.

- :class:`Decoder` — what the consumer uses: stateful (counter fields become per-second rates,
  series caps per host and in total), with ``dropped`` counts by reason.
- :func:`decode_record` — the same decoding without state (no rates, no series caps).
- Both raise only :class:`FormatError` (a :class:`~dash_app.errors.BadMessage` with a ``reason``).
"""

from .decoder import FORMATS, Decoder, Format, decode_record
from .errors import FormatError
from .options import (
    DEFAULT_COUNTER_FIELDS,
    DEFAULT_OPTIONS,
    FormatOptions,
    parse_counter_fields,
    parse_timestamp_units,
)
from .rates import RateConverter

__all__ = [
    "DEFAULT_COUNTER_FIELDS",
    "DEFAULT_OPTIONS",
    "FORMATS",
    "Decoder",
    "Format",
    "FormatError",
    "FormatOptions",
    "RateConverter",
    "decode_record",
    "parse_counter_fields",
    "parse_timestamp_units",
]
