"""Per-series history held by the dashboard process, so a new page (or a reload) starts full.

Three tiers per series, all in flat ``array`` columns (8 bytes a number, not a Python object each):

| tier | resolution      | kept                       | used for windows          |
|------|-----------------|----------------------------|---------------------------|
| raw  | every sample    | ``window_ms`` (15 min) and ``max_points`` | up to the raw window |
| 10 s | min/max/mean    | 1 h (360 buckets)          | up to 1 h                 |
| 1 min| min/max/mean    | 24 h (1,440 buckets)       | up to 24 h                |

Memory per series at 1 Hz with the defaults: raw 900 × 16 B + 10 s 360 × 36 B + 1 min 1,440 × 36 B
≈ 79 KB at most (plus ~1 KB of fixed overhead); 1,000 series ≈ 80 MB. ``max_series`` caps the count;
points of further series are dropped and counted.

Each sample is stored at most once per series: a point whose ``ts`` is not newer than the series'
newest is a duplicate or a late arrival and is counted, not stored. That is what lets snapshot +
deltas be gap- and duplicate-free.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import truediv

from .messages import Sample

SeriesKey = tuple[str, str]  # (host, metric)

SLACK = 1.1  # trim a column only when it is 10 % over its bound: amortised O(1) appends
# Fold into the tiers after this many new points even between prunes: a replay of millions of
# messages (a restart) is then folded as it is read, not all at once by the first page asking for
# buckets (900k points took that page's snapshot 250 ms more).
FOLD_AFTER = 100_000


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

    def merge(self, other: Batch, keep: Callable[[SeriesKey], bool] | None = None) -> None:
        """Append ``other``'s points (of the series ``keep`` accepts; all when None) after ours."""
        for key, (ts, y) in other.points.items():
            if keep is not None and not keep(key):
                continue
            entry = self.points.get(key)
            if entry is None:
                self.points[key] = (list(ts), list(y))
            else:
                entry[0].extend(ts)
                entry[1].extend(y)

    def __len__(self) -> int:
        return sum(len(ts) for ts, _ in self.points.values())


class _Tier:
    """Fixed-width buckets keeping min, max, sum and count (mean = sum / count)."""

    __slots__ = ("cap", "cnt", "mn", "mx", "res", "start", "sum")

    def __init__(self, res_ms: int, cap: int) -> None:
        self.res = res_ms
        self.cap = cap
        self.start = array("q")
        self.mn = array("d")
        self.mx = array("d")
        self.sum = array("d")
        self.cnt = array("l")

    def fold(self, ts: array[int], y: array[float], i: int, n: int) -> None:
        """Add the points ``ts[i:n]`` (ascending), one bucket at a time: min/max/sum of each bucket's
        slice run in C, so the Python cost is per bucket (10 or 60 points at 1 Hz), not per point."""
        res = self.res
        start = self.start
        while i < n:
            t0 = ts[i]
            bucket = t0 - t0 % res
            end = bisect_left(ts, bucket + res, i, n)
            seg = y[i:end]
            lo, hi, total, count = min(seg), max(seg), sum(seg), end - i
            if start and start[-1] == bucket:
                if lo < self.mn[-1]:
                    self.mn[-1] = lo
                if hi > self.mx[-1]:
                    self.mx[-1] = hi
                self.sum[-1] += total
                self.cnt[-1] += count
            else:
                start.append(bucket)
                self.mn.append(lo)
                self.mx.append(hi)
                self.sum.append(total)
                self.cnt.append(count)
                if len(start) > self.cap * SLACK:
                    self._drop(len(start) - self.cap)
            i = end

    def _drop(self, n: int) -> None:
        for col in (self.start, self.mn, self.mx, self.sum, self.cnt):
            del col[:n]

    def prune(self, cutoff_ms: int) -> None:
        n = bisect_left(self.start, cutoff_ms - self.res + 1)  # keep the bucket that holds the cutoff
        if n:
            self._drop(n)

    def since(self, cutoff_ms: int) -> dict[str, object]:
        i = bisect_left(self.start, cutoff_ms - self.res + 1)
        cnt = self.cnt[i:]
        return {
            "ts": self.start[i:].tolist(),
            "y": list(map(truediv, self.sum[i:], cnt)),  # ~2x a comprehension: 10 ms of a 1,000-series snapshot
            "min": self.mn[i:].tolist(),
            "max": self.mx[i:].tolist(),
            "res": self.res,
        }


TIERS = ((10_000, 3_600_000), (60_000, 86_400_000))  # (resolution ms, span ms)


class _Series:
    """Raw columns plus the tiers. Raw points reach the tiers lazily (``fold``), before any raw point
    is trimmed and before a tier is read, so storing a point costs two appends, not a bucket update
    per tier."""

    __slots__ = ("batch", "entry", "folded", "key", "tiers", "ts", "y")

    def __init__(self, key: SeriesKey) -> None:
        self.key = key
        self.ts = array("q")
        self.y = array("d")
        self.folded = 0  # ts[:folded] are in the tiers
        self.tiers = tuple(_Tier(res, span // res) for res, span in TIERS)
        self.batch: Batch | None = None  # the batch ``entry`` belongs to
        self.entry: tuple[list[int], list[float]] = ([], [])

    def fold(self) -> None:
        n = len(self.ts)
        if self.folded < n:
            for tier in self.tiers:
                tier.fold(self.ts, self.y, self.folded, n)
            self.folded = n

    def trim(self, n: int) -> None:
        """Forget the ``n`` oldest raw points (they stay summarised in the tiers)."""
        self.fold()
        del self.ts[:n]
        del self.y[:n]
        self.folded -= n


class SeriesStore:
    def __init__(self, window_ms: int, max_points: int, max_series: int) -> None:
        self.window_ms = window_ms
        self.max_points = max_points
        self.max_series = max_series
        self._series: dict[SeriesKey, _Series] = {}
        self._by_host: dict[str, dict[str, _Series]] = {}  # the same series, found without a key tuple
        self._points = 0
        self._unfolded = 0  # points stored since the tiers were last brought up to date
        self.duplicate_points = 0
        self.dropped_series_points = 0  # points of series refused by the series cap
        self.last_seen: dict[str, float] = {}  # host -> relay clock (s) of its newest arrival

    @property
    def longest_window_ms(self) -> int:
        return max(self.window_ms, TIERS[-1][1])

    def seen(self, host: str, now: float) -> None:
        self.last_seen[host] = now

    def silent_hosts(self, now: float, after: float) -> dict[str, float]:
        """Hosts that sent nothing for ``after`` seconds (relay clock, immune to producer clock skew)."""
        return {h: round(now - t, 1) for h, t in self.last_seen.items() if now - t >= after}

    def add(self, sample: Sample, batch: Batch) -> None:
        """Store the sample's points; every point actually stored is also appended to ``batch``.

        The hot path of ingest (every point of every message): plain appends, no per-point call.
        """
        ts = sample.ts
        host = sample.host
        of_host = self._by_host.get(host)
        if of_host is None:
            of_host = self._by_host[host] = {}
        limit = self.max_points * SLACK
        stored = 0
        for metric, y in sample.metrics.items():
            series = of_host.get(metric)
            if series is None:
                if len(self._series) >= self.max_series:
                    self.dropped_series_points += 1
                    continue
                series = of_host[metric] = self._series[(host, metric)] = _Series((host, metric))
            s_ts = series.ts
            if s_ts and ts <= s_ts[-1]:
                self.duplicate_points += 1
                continue
            s_ts.append(ts)
            series.y.append(y)
            stored += 1
            if len(s_ts) > limit:
                n = len(s_ts) - self.max_points
                series.trim(n)
                self._points -= n
            if series.batch is batch:
                entry = series.entry
            else:
                found = batch.points.get(series.key)
                entry = batch.points[series.key] = ([], []) if found is None else found
                series.batch, series.entry = batch, entry
            entry[0].append(ts)
            entry[1].append(y)
        self._points += stored
        self._unfolded += stored
        if self._unfolded > FOLD_AFTER:
            self.fold()

    def fold(self) -> None:
        """Bring every series' tiers up to date (otherwise done lazily: at prune, trim or a tier read)."""
        for series in self._series.values():
            series.fold()
        self._unfolded = 0

    def prune(self, now_ms: int) -> None:
        """Forget what is older than each tier keeps; forget series with nothing left."""
        cutoff = now_ms - self.window_ms
        empty = []
        for key, series in self._series.items():
            n = bisect_left(series.ts, cutoff)
            if len(series.ts) - n > self.max_points:
                n = len(series.ts) - self.max_points
            series.fold()
            if n:
                series.trim(n)
                self._points -= n
            series.batch = None  # the last tick's batch may go
            for tier, (_res, span) in zip(series.tiers, TIERS, strict=True):
                tier.prune(now_ms - span)
            if not series.ts and not series.tiers[-1].start:
                empty.append(key)
        self._unfolded = 0  # every series was folded above
        for key in empty:
            del self._series[key]
            host, metric = key
            del self._by_host[host][metric]
            if not self._by_host[host]:
                del self._by_host[host]
        hosts = {host for host, of_host in self._by_host.items() if of_host}
        for host in [h for h in self.last_seen if h not in hosts]:
            del self.last_seen[host]

    def _raw_start(self, series: _Series, cutoff_ms: int) -> int:
        """Index of the first raw point a snapshot from ``cutoff_ms`` holds."""
        return max(bisect_left(series.ts, cutoff_ms), len(series.ts) - self.max_points)

    def _raw_since(self, series: _Series, cutoff_ms: int) -> dict[str, object]:
        i = self._raw_start(series, cutoff_ms)
        return {"ts": series.ts[i:].tolist(), "y": series.y[i:].tolist()}

    def snapshot(
        self,
        keep: Callable[[SeriesKey], bool] | None = None,
        window_ms: int | None = None,
        now_ms: int | None = None,
        res_ms: int = 0,
        res_over: int = 0,
    ) -> list[dict[str, object]]:
        """Each kept series over ``window_ms`` (default: the raw window) ending at ``now_ms``.

        Windows longer than the raw window come from the finest tier that covers them, with the
        bucket resolution in ``res`` and ``min``/``max`` beside the mean ``y``. ``res_ms`` asks for
        buckets at least that wide even where raw points exist: a page's quick first paint (10 s
        buckets of 15 min × 1,000 series are a tenth of the points, a quarter of the bytes), and
        with ``res_over`` only when the raw snapshot would hold more points than that.
        """
        window_ms = self.window_ms if window_ms is None else window_ms
        if (res_ms > 0 and res_over > 0 and window_ms <= self.window_ms
                and self._raw_count(keep, window_ms, now_ms) <= res_over):
            res_ms = 0
        out = []
        for (host, metric), s in sorted(self._series.items()):
            if keep is not None and not keep((host, metric)):
                continue
            end = now_ms if now_ms is not None else (s.ts[-1] if s.ts else 0)
            cutoff = end - window_ms
            if window_ms <= self.window_ms and res_ms <= 0:
                body = self._raw_since(s, cutoff)
            else:
                s.fold()
                tier = next((t for t, (r, span) in zip(s.tiers, TIERS, strict=True)
                             if window_ms <= span and res_ms <= r), s.tiers[-1])
                body = tier.since(cutoff)
            if body["ts"]:
                out.append({"host": host, "metric": metric, **body})
        return out

    def _raw_count(self, keep: Callable[[SeriesKey], bool] | None, window_ms: int, now_ms: int | None) -> int:
        """How many raw points a snapshot of ``window_ms`` would hold (a bisect per series)."""
        total = 0
        for key, s in self._series.items():
            if keep is None or keep(key):
                end = now_ms if now_ms is not None else (s.ts[-1] if s.ts else 0)
                total += len(s.ts) - self._raw_start(s, end - window_ms)
        return total

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
        return self._points
