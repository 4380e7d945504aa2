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
        self._hosts: dict[str, dict[str, float]] = {}  # host → series → last seen (clock seconds)
        self._total = 0
        self._next_sweep = float("-inf")
        self.forgotten = 0

    def known(self, host: str) -> dict[str, float] | None:
        """The admitted series of ``host`` → last seen. The decoder's hot loop marks a known series
        as seen by writing ``now`` into it; anything else goes through :meth:`admit`."""
        return self._hosts.get(host)

    def admit(self, host: str, series: str, now: float) -> str | None:
        """None if ``(host, series)`` may be shown; else the drop reason (``series_cap_host`` / ``_total``)."""
        names = self._hosts.get(host)
        if names is not None and series in names:
            names[series] = now
            return None
        count = len(names) if names is not None else 0
        if count >= self.max_per_host or self._total >= self.max_total:
            if now >= self._next_sweep:
                self._next_sweep = now + self.idle_s / 10
                self._sweep(now)
                names = self._hosts.get(host)
                count = len(names) if names is not None else 0
            if count >= self.max_per_host:
                return "series_cap_host"
            if self._total >= self.max_total:
                return "series_cap_total"
        if names is None:
            names = self._hosts[host] = {}
        names[series] = now
        self._total += 1
        return None

    def _sweep(self, now: float) -> None:
        cutoff = now - self.idle_s
        for host in list(self._hosts):
            names = self._hosts[host]
            old = [name for name, seen in names.items() if seen < cutoff]
            for name in old:
                del names[name]
                if self._on_forget is not None:
                    self._on_forget(host, name)
            if not names:
                del self._hosts[host]
            self._total -= len(old)
            self.forgotten += len(old)

    def __len__(self) -> int:
        return self._total

    def hosts(self) -> int:
        return len(self._hosts)
