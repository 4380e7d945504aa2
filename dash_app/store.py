"""Per-series history held by the dashboard process, so a new page (or a reload) starts full.

Bounded three ways: points per series, age of points, number of series. Each sample is stored at
most once per series: a point whose ``ts`` is not newer than the series' newest is a duplicate or a
late arrival and is counted, not stored. That is what lets snapshot + deltas be gap- and duplicate-free.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from .messages import Sample

SeriesKey = tuple[str, str]  # (host, metric)


@dataclass(slots=True)
class _Series:
    ts: deque[int] = field(default_factory=deque)
    y: deque[float] = field(default_factory=deque)


@dataclass(slots=True)
class Batch:
    """Points accepted since the last drain, grouped by series, in arrival order."""

    points: dict[SeriesKey, tuple[list[int], list[float]]] = field(default_factory=dict)

    def add(self, key: SeriesKey, ts: int, y: float) -> None:
        entry = self.points.get(key)
        if entry is None:
            entry = self.points[key] = ([], [])
        entry[0].append(ts)
        entry[1].append(y)

    def __len__(self) -> int:
        return sum(len(ts) for ts, _ in self.points.values())


class SeriesStore:
    def __init__(self, window_ms: int, max_points: int, max_series: int) -> None:
        self.window_ms = window_ms
        self.max_points = max_points
        self.max_series = max_series
        self._series: dict[SeriesKey, _Series] = {}
        self.duplicate_points = 0
        self.dropped_series_points = 0  # points of series refused by the series cap
        self.last_seen: dict[str, float] = {}  # host -> relay clock (s) of its newest arrival

    def seen(self, host: str, now: float) -> None:
        self.last_seen[host] = now

    def silent_hosts(self, now: float, after: float) -> dict[str, float]:
        """Hosts that sent nothing for ``after`` seconds (relay clock, immune to producer clock skew)."""
        return {h: round(now - t, 1) for h, t in self.last_seen.items() if now - t >= after}

    def add(self, sample: Sample, batch: Batch) -> None:
        """Store the sample's points; every point actually stored is also appended to ``batch``."""
        for metric, y in sample.metrics.items():
            key = (sample.host, metric)
            series = self._series.get(key)
            if series is None:
                if len(self._series) >= self.max_series:
                    self.dropped_series_points += 1
                    continue
                series = self._series[key] = _Series()
            if series.ts and sample.ts <= series.ts[-1]:
                self.duplicate_points += 1
                continue
            series.ts.append(sample.ts)
            series.y.append(y)
            if len(series.ts) > self.max_points:
                series.ts.popleft()
                series.y.popleft()
            batch.add(key, sample.ts, y)

    def prune(self, now_ms: int) -> None:
        """Forget points older than the window; forget series with no point left."""
        cutoff = now_ms - self.window_ms
        empty = []
        for key, series in self._series.items():
            while series.ts and series.ts[0] < cutoff:
                series.ts.popleft()
                series.y.popleft()
            if not series.ts:
                empty.append(key)
        for key in empty:
            del self._series[key]
        hosts = {host for host, _ in self._series}
        for host in [h for h in self.last_seen if h not in hosts]:
            del self.last_seen[host]

    def snapshot(self, keep: Callable[[SeriesKey], bool] | None = None) -> list[dict[str, object]]:
        return [
            {"host": host, "metric": metric, "ts": list(s.ts), "y": list(s.y)}
            for (host, metric), s in sorted(self._series.items())
            if keep is None or keep((host, metric))
        ]

    def latest(self, keep: Callable[[SeriesKey], bool] | None = None) -> Batch:
        """The newest point of every (kept) series: what a slow client gets instead of its backlog."""
        batch = Batch()
        for key, s in self._series.items():
            if s.ts and (keep is None or keep(key)):
                batch.add(key, s.ts[-1], s.y[-1])
        return batch

    @property
    def series_count(self) -> int:
        return len(self._series)

    @property
    def point_count(self) -> int:
        return sum(len(s.ts) for s in self._series.values())
