"""Settings of the format decoders: one frozen object, validated once (docs/formats.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Precision = Literal["ns", "us", "ms", "s", "auto"]

_NS_PER = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
           "m": 60_000_000_000, "h": 3_600_000_000_000}

# Counter fields of Telegraf's standard system inputs, as "<measurement>.<field>". Each becomes a
# per-second rate named "<measurement>.<field>_per_s{tags}"; gauges of the same inputs
# (diskio.iops_in_progress, net protocol stats under interface=all, ...) are left alone.
DEFAULT_COUNTER_FIELDS: frozenset[str] = frozenset(
    [f"net.{f}" for f in ("bytes_sent", "bytes_recv", "packets_sent", "packets_recv",
                          "err_in", "err_out", "drop_in", "drop_out")]
    + [f"diskio.{f}" for f in ("reads", "writes", "read_bytes", "write_bytes", "read_time", "write_time",
                               "io_time", "weighted_io_time", "merged_reads", "merged_writes")]
    + [f"kernel.{f}" for f in ("context_switches", "interrupts", "processes_forked",
                               "disk_pages_in", "disk_pages_out")]
    + ["swap.in", "swap.out"]
)

_DURATION = re.compile(r"([0-9]+(?:\.[0-9]*)?)(ns|us|µs|ms|s|m|h)")


def parse_timestamp_units(text: str) -> int:
    """Telegraf's ``json_timestamp_units`` ("1s", "1ms", "10ms", "1us", "1ns"...) → nanoseconds.

    Like Telegraf's JSON serializer, the duration is truncated to the power of ten at or below it
    ("15ms" → 10 ms); zero or negative means its default, one second. ``"auto"`` → 0 (guess from the
    magnitude of each timestamp).
    """
    text = text.strip()
    if text == "auto":
        return 0
    total = 0.0
    pos = 0
    while pos < len(text):
        m = _DURATION.match(text, pos)
        if m is None:
            raise ValueError(f"json_timestamp_units={text!r}: not a duration like 1s, 1ms, 1us, 1ns or auto")
        total += float(m.group(1)) * _NS_PER[m.group(2)]
        pos = m.end()
    if not text:
        raise ValueError("json_timestamp_units='': not a duration like 1s, 1ms, 1us, 1ns or auto")
    if total < 1:
        return 1_000_000_000
    unit = 1
    while unit * 10 <= total:
        unit *= 10
    return unit


def parse_counter_fields(text: str) -> frozenset[str]:
    """A comma-separated list of ``measurement.field`` names (a setting's text) → the frozen set.

    ``"default"`` stands for :data:`DEFAULT_COUNTER_FIELDS`, so ``"default,nstat.tcp_insegs"`` adds one.
    """
    out: set[str] = set()
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if item == "default":
            out |= DEFAULT_COUNTER_FIELDS
            continue
        measurement, dot, fld = item.partition(".")
        if not dot or not measurement or not fld:
            raise ValueError(f"counter field {item!r}: expected <measurement>.<field>, e.g. net.bytes_recv")
        out.add(item)
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class FormatOptions:
    # Influx line protocol and Telegraf JSON: where the host and the time come from.
    host_tag: str = "host"
    default_host: str | None = None  # host of a line/metric without the host tag; None: drop it ("no_host")
    influx_precision: Precision = "ns"  # unit of line protocol timestamps (Telegraf writes ns)
    json_timestamp_units: str = "1s"  # Telegraf's json_timestamp_units (its default is 1s)
    # The seed's Elixir producer: its messages carry no host.
    seed_host: str = "seed"
    # Counter fields turned into per-second rates (Decoder only).
    counter_fields: frozenset[str] = DEFAULT_COUNTER_FIELDS
    # Caps against hostile input; everything beyond them is dropped and counted by reason.
    max_message_bytes: int = 1_048_576
    max_fields_per_message: int = 5_000
    max_lines_per_message: int = 10_000  # Influx lines / metrics of a Telegraf batch read per message
    max_name_len: int = 200
    max_host_len: int = 255
    max_series_per_host: int = 1_000
    max_series_total: int = 10_000
    series_idle_s: float = 900.0  # at a series cap, series not seen for this long are forgotten first
    # Derived, not arguments.
    json_unit_ns: int = field(init=False, default=0)
    influx_unit_ns: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if self.influx_precision not in ("ns", "us", "ms", "s", "auto"):
            raise ValueError(f"influx_precision={self.influx_precision!r}: one of ns, us, ms, s, auto")
        object.__setattr__(self, "influx_unit_ns",
                           0 if self.influx_precision == "auto" else _NS_PER[self.influx_precision])
        object.__setattr__(self, "json_unit_ns", parse_timestamp_units(self.json_timestamp_units))
        if not self.host_tag:
            raise ValueError("host_tag='': must name a tag")
        for name in ("seed_host", "default_host"):
            host = getattr(self, name)
            if host is not None and not (0 < len(host) <= self.max_host_len):
                raise ValueError(f"{name}={host!r}: 1 to {self.max_host_len} characters")
        for name in ("max_message_bytes", "max_fields_per_message", "max_lines_per_message", "max_name_len",
                     "max_host_len", "max_series_per_host", "max_series_total"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)!r}: must be at least 1")
        if self.series_idle_s <= 0:
            raise ValueError(f"series_idle_s={self.series_idle_s!r}: must be positive")


DEFAULT_OPTIONS = FormatOptions()
