"""Series caps against hostile or runaway input: at most N series per host and M in total.

A series is admitted the first time it is seen if both caps allow; after that it always passes.
When a cap is reached, series not seen for ``idle_s`` seconds are forgotten first (at most one
sweep per ``idle_s / 10``, so a flood of new names costs O(1) per name, not a sweep each), which
lets hosts and metrics come and go over days without the caps filling up with the dead ones.
"""

from __future__ import annotations

from collections.abc import Callable


class SeriesLimiter:
    def __init__(
        self,
        max_per_host: int,
        max_total: int,
        idle_s: float,
        on_forget: Callable[[str, str], None] | None = None,
    ) -> None:
        self.max_per_host = max_per_host
        self.max_total = max_total
        self.idle_s = idle_s
        self._on_forget = on_forget
        self._seen: dict[tuple[str, str], float] = {}
        self._per_host: dict[str, int] = {}
        self._next_sweep = float("-inf")
        self.forgotten = 0

    def admit(self, host: str, series: str, now: float) -> str | None:
        """None if ``(host, series)`` may be shown; else the drop reason (``series_cap_host`` / ``_total``)."""
        key = (host, series)
        seen = self._seen
        if key in seen:
            seen[key] = now
            return None
        count = self._per_host.get(host, 0)
        if count >= self.max_per_host or len(seen) >= self.max_total:
            if now >= self._next_sweep:
                self._next_sweep = now + self.idle_s / 10
                self._sweep(now)
                count = self._per_host.get(host, 0)
            if count >= self.max_per_host:
                return "series_cap_host"
            if len(seen) >= self.max_total:
                return "series_cap_total"
        seen[key] = now
        self._per_host[host] = count + 1
        return None

    def _sweep(self, now: float) -> None:
        cutoff = now - self.idle_s
        old = [key for key, t in self._seen.items() if t < cutoff]
        for key in old:
            del self._seen[key]
            host = key[0]
            left = self._per_host[host] - 1
            if left:
                self._per_host[host] = left
            else:
                del self._per_host[host]
            if self._on_forget is not None:
                self._on_forget(*key)
        self.forgotten += len(old)

    def __len__(self) -> int:
        return len(self._seen)

    def hosts(self) -> int:
        return len(self._per_host)
