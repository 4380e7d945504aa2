"""Counters → per-second rates, per (host, series), as Telegraf's own docs compute them
(``non_negative_derivative(..., 1s)``).

- the first value of a series emits nothing (there is nothing to subtract);
- a value lower than the previous one is a counter reset (reboot, wrap, interface re-created): it
  emits nothing and becomes the new base, never a negative rate;
- a value whose time is not newer than the previous one (a duplicate or a late record) emits nothing
  and leaves the state alone.

State is one ``(ts, value)`` per series, bounded by ``max_entries`` (the decoder sets it to its total
series cap and forgets the state of series its limiter forgets).
"""

from __future__ import annotations

from collections.abc import Iterable

from .options import DEFAULT_COUNTER_FIELDS

RATE_SUFFIX = "_per_s"


class RateConverter:
    def __init__(self, counter_fields: Iterable[str] = DEFAULT_COUNTER_FIELDS, max_entries: int = 100_000) -> None:
        self.counter_fields = frozenset(counter_fields)
        self.max_entries = max_entries
        self._last: dict[tuple[str, str], tuple[int, float]] = {}
        self.first = 0  # first values (nothing emitted)
        self.resets = 0  # counters that went backwards (nothing emitted)
        self.stale = 0  # values not newer than the previous one (nothing emitted)
        self.refused = 0  # new series refused because max_entries was reached

    def is_counter(self, measurement: str, field: str) -> bool:
        return f"{measurement}.{field}" in self.counter_fields

    def rate(self, host: str, series: str, ts_ms: int, value: float) -> float | None:
        """The per-second rate since the previous value of ``(host, series)``, or None (see above)."""
        key = (host, series)
        last = self._last.get(key)
        if last is None:
            if len(self._last) >= self.max_entries:
                self.refused += 1
                return None
            self._last[key] = (ts_ms, value)
            self.first += 1
            return None
        last_ts, last_value = last
        if ts_ms <= last_ts:
            self.stale += 1
            return None
        self._last[key] = (ts_ms, value)
        if value < last_value:
            self.resets += 1
            return None
        return (value - last_value) * 1000.0 / (ts_ms - last_ts)

    def forget(self, host: str, series: str) -> None:
        self._last.pop((host, series), None)

    def __len__(self) -> int:
        return len(self._last)
