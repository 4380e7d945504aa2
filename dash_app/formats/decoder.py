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

_PLAIN, _COUNTER, _TOO_LONG, _CONTROL = 0, 1, 2, 3
_NAME_CACHE_MAX = 50_000


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
        self._namer = _Namer(options, self.rates.counter_fields)
        self._clock = clock

    def decode(self, value: bytes | str | None, key: bytes | None = None, kafka_ts_ms: int | None = None,
               fmt: Format = "auto") -> list[Sample]:
        """One Kafka record → samples (maybe none: e.g. the first value of a counter)."""
        name, points = _points(value, key, kafka_ts_ms, fmt, self.options, self.dropped, self._influx)
        self.formats[name] += 1
        return _assemble(points, self._namer, self.dropped, self.rates, self.limiter, self._clock())

    @property
    def series_count(self) -> int:
        return len(self.limiter)


def decode_record(value: bytes | str | None, key: bytes | None, kafka_ts_ms: int | None, *,
                  fmt: Format = "auto", options: FormatOptions = DEFAULT_OPTIONS,
                  dropped: Counter[str] | None = None) -> list[Sample]:
    """Decode one record without state: counter fields come out raw (no rates), no series caps.

    For tools and tests; the consumer uses :class:`Decoder`, which adds rates and series caps.
    """
    drops = dropped if dropped is not None else Counter()
    _, points = _points(value, key, kafka_ts_ms, fmt, options, drops, InfluxParser(options))
    return _assemble(points, _Namer(options, frozenset()), drops, None, None, 0.0)


def _points(value: bytes | str | None, key: bytes | None, kafka_ts_ms: int | None, fmt: str,
            options: FormatOptions, drops: Counter[str], influx: InfluxParser) -> tuple[str, list[Point]]:
    if value is None:
        raise FormatError("empty", "tombstone / null value")
    if not isinstance(value, bytes):
        value = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else bytes(value)
    if len(value) > options.max_message_bytes:
        raise FormatError("too_large", f"{len(value)} bytes > {options.max_message_bytes}")
    if not value.strip():
        raise FormatError("empty", "blank value")
    if fmt == "auto":
        sniffed = sniff(value)
        if sniffed == "influx":
            return "influx", influx.parse(value, kafka_ts_ms, drops)
        if sniffed == "seed":
            return "seed", [seed.parse(value, key, kafka_ts_ms, options)]
        if looks_like_v1(value):
            return "v1", [v1.parse(value)]
        doc = _json(value)
        if isinstance(doc, dict) and "v" in doc:
            return "v1", [v1.parse(value)]
        return "telegraf_json", telegraf.parse(doc, kafka_ts_ms, options, drops)
    if fmt == "influx":
        return fmt, influx.parse(value, kafka_ts_ms, drops)
    if fmt == "telegraf_json":
        return fmt, telegraf.parse(_json(value), kafka_ts_ms, options, drops)
    if fmt == "v1":
        return fmt, [v1.parse(value)]
    if fmt == "seed":
        return fmt, [seed.parse(value, key, kafka_ts_ms, options)]
    raise ValueError(f"format {fmt!r}: one of {', '.join(FORMATS)}")


def _json(value: bytes) -> object:
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise FormatError("not_json", str(exc)) from None


class _Namer:
    """Series names of (measurement, tag suffix, field), with their kind, cached (bounded)."""

    def __init__(self, options: FormatOptions, counters: frozenset[str]) -> None:
        self.max_len = options.max_name_len
        self.counters = counters
        self._cache: dict[tuple[str | None, str], dict[str, tuple[str, int]]] = {}
        self._size = 0

    def names(self, measurement: str | None, suffix: str) -> dict[str, tuple[str, int]]:
        key = (measurement, suffix)
        names = self._cache.get(key)
        if names is None:
            if self._size >= _NAME_CACHE_MAX:
                self._cache.clear()
                self._size = 0
            names = self._cache[key] = {}
        return names

    def name(self, names: dict[str, tuple[str, int]], measurement: str | None, suffix: str,
             field: str) -> tuple[str, int]:
        kind = _PLAIN
        if measurement is None:
            name = field
        else:
            base = measurement + "." + field
            if base in self.counters:
                kind = _COUNTER
                name = base + RATE_SUFFIX + suffix
            else:
                name = base + suffix
        if len(name) > self.max_len:
            kind = _TOO_LONG
        elif not name or CONTROL.search(name):
            kind = _CONTROL
        entry = names[field] = (name, kind)
        self._size += 1
        return entry


def _assemble(points: list[Point], namer: _Namer, drops: Counter[str],
              rates: RateConverter | None, limiter: SeriesLimiter | None, now: float) -> list[Sample]:
    """Name every field, turn counters into rates, apply name and series caps; one Sample per (host, ts)."""
    groups: dict[tuple[str, int], tuple[dict[str, float], list[int], int | None]] = {}
    for p in points:
        host = p.host
        if p.skipped:
            drops["non_numeric"] += p.skipped
        if CONTROL.search(host):
            drops["control_char"] += len(p.fields)
            continue
        group = groups.get((host, p.ts))
        if group is None:
            group = groups[(host, p.ts)] = ({}, [0], p.seq)
        metrics, skipped = group[0], p.skipped
        measurement, suffix = p.measurement, p.suffix
        names = namer.names(measurement, suffix)
        known = limiter.known(host) if limiter is not None else None
        for field, value in p.fields.items():
            entry = names.get(field)
            if entry is None:
                entry = namer.name(names, measurement, suffix, field)
            name, kind = entry
            if kind >= _TOO_LONG:
                drops["name_too_long" if kind == _TOO_LONG else "control_char"] += 1
                skipped += 1
                continue
            if known is not None and name in known:
                known[name] = now
            elif limiter is not None:
                refused = limiter.admit(host, name, now)
                if refused is not None:
                    drops[refused] += 1
                    skipped += 1
                    continue
                known = limiter.known(host)
            if kind == _COUNTER and rates is not None:
                rate = rates.rate(host, name, p.ts, value)
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
