"""Record → samples: format dispatch, series naming, counter rates and caps (docs/formats.md)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Literal, get_args

import orjson

from ..messages import Sample
from . import seed, telegraf, v1
from .detect import looks_like_v1, sniff
from .errors import FormatError
from .influx import InfluxParser
from .limits import SeriesLimiter
from .options import DEFAULT_OPTIONS, FormatOptions
from .points import CONTROL, Point
from .rates import RATE_SUFFIX, RateConverter

Format = Literal["auto", "v1", "influx", "telegraf_json", "seed"]
FORMATS: tuple[str, ...] = get_args(Format)
_JSON_ESCAPES = (b"\\u", b"\x7f", b"\xc2")  # how a control character can hide in JSON text


class Decoder:
    """One per consumer (per topic configuration). Not thread-safe: call it from the consumer thread.

    ``dropped`` counts, by reason, everything inside usable records that is not shown: bad lines or
    metrics of a batch, fields that are not numbers, fields beyond the caps, series beyond the caps.
    Records that are unusable as a whole raise :class:`FormatError` instead (counted by the caller).
    """

    def __init__(self, options: FormatOptions = DEFAULT_OPTIONS, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.options = options
        self.rates = RateConverter(options.counter_fields, max_entries=options.max_series_total)
        self.limiter = SeriesLimiter(options.max_series_per_host, options.max_series_total,
                                     options.series_idle_s, on_forget=self.rates.forget)
        self.dropped: Counter[str] = Counter()
        self.formats: Counter[str] = Counter()  # usable records per (detected) format
        self._influx = InfluxParser(options)
        self._clock = clock

    def decode(self, value: bytes | None, key: bytes | None = None, kafka_ts_ms: int | None = None,
               fmt: Format = "auto") -> list[Sample]:
        name, points, check = _points(value, key, kafka_ts_ms, fmt, self.options, self.dropped, self._influx)
        self.formats[name] += 1
        return _assemble(points, self.options, self.dropped, check, self.rates, self.limiter, self._clock())


def decode_record(value: bytes | None, key: bytes | None, kafka_ts_ms: int | None, *,
                  fmt: Format = "auto", options: FormatOptions = DEFAULT_OPTIONS,
                  dropped: Counter[str] | None = None) -> list[Sample]:
    """Decode one record without state: counter fields come out raw (no rates), no series caps.

    For tools and tests; the consumer uses :class:`Decoder`, which adds rates and series caps.
    """
    drops = dropped if dropped is not None else Counter()
    _, points, check = _points(value, key, kafka_ts_ms, fmt, options, drops, InfluxParser(options))
    return _assemble(points, options, drops, check, None, None, 0.0)


def _points(value: bytes | None, key: bytes | None, kafka_ts_ms: int | None, fmt: str,
            options: FormatOptions, drops: Counter[str], influx: InfluxParser) -> tuple[str, list[Point], bool]:
    """(format name, points, whether names may hide control characters)."""
    if value is None:
        raise FormatError("empty", "tombstone / null value")
    if not isinstance(value, bytes):
        value = bytes(value)
    if len(value) > options.max_message_bytes:
        raise FormatError("too_large", f"{len(value)} bytes > {options.max_message_bytes}")
    if not value.strip():
        raise FormatError("empty", "blank value")
    if fmt == "auto":
        sniffed = sniff(value)
        if sniffed == "seed":
            return "seed", [seed.parse(value, key, kafka_ts_ms, options)], False
        if sniffed == "influx":
            return "influx", influx.parse(value, kafka_ts_ms, drops), False
        if looks_like_v1(value):
            return "v1", [v1.parse(value)], _may_hide_control(value)
        doc = _json(value)
        if isinstance(doc, dict) and "v" in doc:
            return "v1", [v1.parse(value)], _may_hide_control(value)
        return "telegraf_json", telegraf.parse(doc, kafka_ts_ms, options, drops), _may_hide_control(value)
    if fmt == "influx":
        return fmt, influx.parse(value, kafka_ts_ms, drops), False
    if fmt == "telegraf_json":
        return fmt, telegraf.parse(_json(value), kafka_ts_ms, options, drops), _may_hide_control(value)
    if fmt == "v1":
        return fmt, [v1.parse(value)], _may_hide_control(value)
    if fmt == "seed":
        return fmt, [seed.parse(value, key, kafka_ts_ms, options)], False
    raise ValueError(f"format {fmt!r}: one of {', '.join(FORMATS)}")


def _json(value: bytes) -> object:
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise FormatError("not_json", str(exc)) from None


def _may_hide_control(value: bytes) -> bool:
    return any(marker in value for marker in _JSON_ESCAPES)


def _assemble(points: list[Point], options: FormatOptions, drops: Counter[str], check_control: bool,
              rates: RateConverter | None, limiter: SeriesLimiter | None, now: float) -> list[Sample]:
    """Name every field, turn counters into rates, apply name and series caps; one Sample per (host, ts)."""
    groups: dict[tuple[str, int], tuple[dict[str, float], list[int], int | None]] = {}
    max_len = options.max_name_len
    counters = rates.counter_fields if rates is not None else frozenset()
    for p in points:
        host = p.host
        if p.skipped:
            drops["non_numeric"] += p.skipped
        if check_control and CONTROL.search(host):
            drops["control_char"] += len(p.fields)
            continue
        group = groups.get((host, p.ts))
        if group is None:
            group = groups[(host, p.ts)] = ({}, [0], p.seq)
        metrics, skipped = group[0], p.skipped
        measurement, suffix = p.measurement, p.suffix
        for field, value in p.fields.items():
            is_counter = False
            if measurement is None:
                name = field
            else:
                base = measurement + "." + field
                if base in counters:
                    is_counter = True
                    name = base + RATE_SUFFIX + suffix
                else:
                    name = base + suffix
            if len(name) > max_len:
                drops["name_too_long"] += 1
                skipped += 1
                continue
            if check_control and CONTROL.search(name):
                drops["control_char"] += 1
                skipped += 1
                continue
            if limiter is not None:
                refused = limiter.admit(host, name, now)
                if refused is not None:
                    drops[refused] += 1
                    skipped += 1
                    continue
            if is_counter:
                rate = rates.rate(host, name, p.ts, value)  # type: ignore[union-attr]
                if rate is None:
                    continue
                value = rate
            metrics[name] = value
        group[1][0] += skipped
    return [
        Sample(host=host, ts=ts, seq=seq, metrics=metrics, skipped_metrics=skipped[0])
        for (host, ts), (metrics, skipped, seq) in groups.items()
        if metrics or skipped[0]
    ]
