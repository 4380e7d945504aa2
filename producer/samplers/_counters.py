"""Per-second rates from kernel counters, and the small /proc readers psutil does not offer.

Everything here reads below `psutil.PROCFS_PATH` (looked up on each call), so tests point it at a
recorded /proc snapshot.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import psutil

# Rates and percentages are rounded to this many decimals: finer digits are noise (the kernel counts CPU
# time in 10 ms ticks) and every digit is paid for in the message size.
DECIMALS = 2


class Counters:
    """Rates of monotonically increasing counters, keyed by name (`"sda.read_bytes"`).

    `update(readings, now)` returns key -> (value − previous) / (now − previous time) for the keys that
    were also in the previous reading. A key seen for the first time (start, a device plugged in) has no
    rate yet; a counter that went backwards (reset, 32-bit wrap, device replaced under the same name) or
    a clock that did not advance gives no rate either, and the next reading starts from the new value.
    Keys missing from a reading (a device unplugged) are forgotten, so a device that comes back starts
    over instead of producing one huge or negative value.
    """

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._last_time: float | None = None

    def update(self, readings: Mapping[str, float], now: float) -> dict[str, float]:
        last, last_time = self._last, self._last_time
        self._last, self._last_time = dict(readings), now
        if last_time is None or now <= last_time:
            return {}
        elapsed = now - last_time
        rates = {}
        for key, value in readings.items():
            previous = last.get(key)
            if previous is not None and value >= previous:
                rates[key] = round((value - previous) / elapsed, DECIMALS)
        return rates


def procfs(name: str) -> str:
    """Path of a file below psutil's /proc root (`procfs("net/dev")`)."""
    return f"{psutil.PROCFS_PATH}/{name}"


def read_text(name: str) -> str:
    with open(procfs(name), encoding="ascii", errors="replace") as fh:
        return fh.read()


_CPU_LINE = re.compile(r"cpu(\d*)$")


class Stat:
    """One reading of /proc/stat: per-CPU tick counters by name ("cpu" = all, "cpu0", …) and the scalars."""

    __slots__ = ("cpus", "scalars")

    def __init__(self, cpus: dict[str, tuple[int, ...]], scalars: dict[str, int]) -> None:
        self.cpus = cpus
        self.scalars = scalars


def read_stat() -> Stat:
    """/proc/stat. Unlike `psutil.cpu_times(percpu=True)` this keeps each CPU's number, so a CPU taken
    offline (its line disappears) does not shift the others' values onto the wrong core."""
    cpus: dict[str, tuple[int, ...]] = {}
    scalars: dict[str, int] = {}
    for line in read_text("stat").splitlines():
        fields = line.split()
        if not fields:
            continue
        if _CPU_LINE.match(fields[0]):
            cpus[fields[0]] = tuple(int(v) for v in fields[1:])
        elif len(fields) == 2 and fields[1].isdigit():
            scalars[fields[0]] = int(fields[1])
    return Stat(cpus, scalars)


def excluded(name: str, pattern: re.Pattern[str] | None) -> bool:
    return pattern is not None and pattern.search(name) is not None


def total_rates(per_device: Mapping[str, float], fields: Iterable[str]) -> dict[str, float]:
    """Sum `<device>.<field>` rates over devices, per field; a field no device has a rate for is left out."""
    sums: dict[str, float] = {}
    for key, rate in per_device.items():
        field = key.rpartition(".")[2]
        sums[field] = sums.get(field, 0.0) + rate
    return {field: round(sums[field], DECIMALS) for field in fields if field in sums}
