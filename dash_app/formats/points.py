"""What every format decodes to before naming: points of one host at one time, plus naming rules.

A :class:`Point` is one Influx line, one Telegraf JSON metric, one v1 message or one seed message.
Series names (docs/formats.md):

- Influx / Telegraf: ``<measurement>.<field>`` followed by the other tags, sorted by key, in braces:
  ``cpu.usage_idle{cpu=cpu0}``, ``net.bytes_recv_per_s{interface=eth0}``, ``mem.used_percent``.
  Dots in the measurement become ``_`` so the family (the part before the first dot) is the
  measurement. Inside the braces ``\\ , = { }`` in tag keys and values are escaped with a backslash.
- v1: the metric name as sent; seed: the message key (the label) as sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Characters never accepted in a host or series name: C0/C1 controls and DEL. They would be invisible
# on the page and \x1f is the page's own key separator.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SUFFIX_SPECIAL = re.compile(r"[\\,={}]")


@dataclass(slots=True)
class Point:
    host: str
    ts: int  # epoch ms, > 0
    measurement: str | None  # sanitised measurement (Influx/Telegraf); None: field names are final names
    suffix: str  # "{k=v,...}" or ""
    fields: dict[str, float]  # finite numbers only
    skipped: int = 0  # fields left out: not numbers (strings, booleans, nested JSON)
    seq: int | None = None


def measurement_name(measurement: str) -> str:
    return measurement.replace(".", "_") if "." in measurement else measurement


def _escape(text: str) -> str:
    return _SUFFIX_SPECIAL.sub(r"\\\g<0>", text) if _SUFFIX_SPECIAL.search(text) else text


def tag_suffix(tags: dict[str, str]) -> str:
    """``{a=1,b=2}`` from the tags other than the host tag (keys sorted); ``""`` when there are none."""
    if not tags:
        return ""
    return "{" + ",".join(f"{_escape(k)}={_escape(tags[k])}" for k in sorted(tags)) + "}"


def ms_from(ts: int | float, unit_ns: int) -> int:
    """A timestamp in units of ``unit_ns`` nanoseconds → epoch ms (integers: floor, floats: rounded).
    ``unit_ns == 0``: guess the unit from the magnitude (s, ms, us or ns for any date from 1973 to 5138)."""
    if unit_ns == 0:
        a = abs(ts)
        unit_ns = 1_000_000_000 if a < 1e11 else 1_000_000 if a < 1e14 else 1_000 if a < 1e17 else 1
    if isinstance(ts, int):
        return ts * unit_ns // 1_000_000
    return round(ts * unit_ns / 1_000_000)
