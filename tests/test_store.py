import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dash_app import store as store_module
from dash_app.messages import Sample
from dash_app.store import Batch, SeriesStore


def sample(host, ts, **metrics):
    return Sample(host=host, ts=ts, seq=None, metrics={k.replace("_", "."): v for k, v in metrics.items()})


def test_points_are_stored_once_and_reported_in_the_batch():
    store = SeriesStore(window_ms=60_000, max_points=100, max_series=10)
    batch = Batch()
    store.add(sample("a", 1000, cpu_percent=1.0, mem_used=2.0), batch)
    store.add(sample("a", 1000, cpu_percent=9.0), batch)  # same ts again: duplicate
    store.add(sample("a", 900, cpu_percent=9.0), batch)  # older: late
    store.add(sample("a", 2000, cpu_percent=3.0), batch)
    assert batch.points[("a", "cpu.percent")] == ([1000, 2000], [1.0, 3.0])
    assert batch.points[("a", "mem.used")] == ([1000], [2.0])
    assert store.duplicate_points == 2
    assert len(batch) == 3
    snap = {(s["host"], s["metric"]): (s["ts"], s["y"]) for s in store.snapshot()}
    assert snap == {("a", "cpu.percent"): ([1000, 2000], [1.0, 3.0]), ("a", "mem.used"): ([1000], [2.0])}


def test_points_per_series_are_bounded():
    store = SeriesStore(window_ms=10**9, max_points=3, max_series=10)
    batch = Batch()
    for ts in range(1, 11):
        store.add(sample("a", ts, x=float(ts)), batch)
    assert store.snapshot()[0]["ts"] == [8, 9, 10]
    assert store.point_count == 3


def test_series_count_is_capped_and_refusals_counted():
    store = SeriesStore(window_ms=10**9, max_points=10, max_series=2)
    batch = Batch()
    store.add(sample("a", 1, x=1.0, y=1.0, z=1.0), batch)
    assert store.series_count == 2
    assert store.dropped_series_points == 1


def test_prune_drops_old_points_and_empty_series():
    store = SeriesStore(window_ms=1000, max_points=10, max_series=10)
    batch = Batch()
    store.add(sample("old", 100, x=1.0), batch)
    store.add(sample("new", 100, x=1.0), batch)
    store.add(sample("new", 1900, x=2.0), batch)
    store.prune(now_ms=2000)
    assert [(s["host"], s["ts"]) for s in store.snapshot()] == [("new", [1900])]


def test_tiers_keep_min_max_mean_per_bucket_and_long_windows_use_them():
    store = SeriesStore(window_ms=60_000, max_points=100, max_series=10)
    batch = Batch()
    base = 1_800_000_000_000  # a multiple of 60 s
    for i in range(120):  # 2 minutes at 1 Hz, value = second
        store.add(sample("h", base + i * 1000, m=float(i)), batch)
    now = base + 119_000
    raw = store.snapshot(window_ms=30_000, now_ms=now)[0]
    assert raw["ts"] == [base + i * 1000 for i in range(89, 120)] and "res" not in raw
    ten = store.snapshot(window_ms=3_600_000, now_ms=now)[0]
    assert ten["res"] == 10_000 and len(ten["ts"]) == 12
    assert (ten["ts"][0], ten["min"][0], ten["max"][0], ten["y"][0]) == (base, 0.0, 9.0, 4.5)
    day = store.snapshot(window_ms=86_400_000, now_ms=now)[0]
    assert day["res"] == 60_000 and day["ts"] == [base, base + 60_000]
    assert (day["min"][1], day["max"][1], day["y"][1]) == (60.0, 119.0, 89.5)


def test_res_asks_for_buckets_inside_the_raw_window():
    store = SeriesStore(window_ms=60_000, max_points=100, max_series=10)
    batch = Batch()
    base = 1_800_000_000_000
    for i in range(60):
        store.add(sample("h", base + i * 1000, m=float(i)), batch)
    now = base + 59_000
    coarse = store.snapshot(window_ms=30_000, now_ms=now, res_ms=10_000)[0]
    # the buckets holding the last 30 s (the first one straddles the cutoff), min/max/mean each
    assert coarse["res"] == 10_000 and coarse["ts"] == [base + k * 10_000 for k in range(2, 6)]
    assert (coarse["min"][-1], coarse["max"][-1], coarse["y"][-1]) == (50.0, 59.0, 54.5)
    assert store.snapshot(window_ms=30_000, now_ms=now, res_ms=11_000)[0]["res"] == 60_000  # next wider tier
    assert "res" not in store.snapshot(window_ms=30_000, now_ms=now)[0]  # raw stays the default
    # res_over: buckets only when the raw snapshot would be bigger than that (here 31 points: 29 s to 59 s)
    assert "res" not in store.snapshot(window_ms=30_000, now_ms=now, res_ms=10_000, res_over=31)[0]
    assert store.snapshot(window_ms=30_000, now_ms=now, res_ms=10_000, res_over=30)[0]["res"] == 10_000


def test_prune_keeps_tiers_longer_than_the_raw_window():
    store = SeriesStore(window_ms=60_000, max_points=100, max_series=10)
    batch = Batch()
    base = 1_800_000_000_000
    store.add(sample("h", base, m=1.0), batch)
    store.prune(now_ms=base + 600_000)  # 10 min later: raw is gone, buckets stay
    assert store.point_count == 0 and store.series_count == 1
    assert store.snapshot(window_ms=3_600_000, now_ms=base + 600_000)[0]["ts"] == [base]
    store.prune(now_ms=base + 90_000_000)  # past 24 h: all gone
    assert store.series_count == 0


def test_batch_merge_appends_kept_series_without_aliasing():
    a, b = Batch(), Batch()
    a.add(("h", "x"), 1, 1.0)
    b.add(("h", "x"), 2, 2.0)
    b.add(("h", "y"), 2, 5.0)
    a.merge(b, keep=lambda key: key[1] == "x")
    assert a.points == {("h", "x"): ([1, 2], [1.0, 2.0])}
    c = Batch()
    c.merge(b)
    c.add(("h", "y"), 3, 6.0)
    assert b.points[("h", "y")] == ([2], [5.0]), "the source batch is not changed by later adds"


def _reference_buckets(points, res):
    """Eager model: every point updates its bucket's min, max, sum, count."""
    buckets = {}
    for ts, y in points:
        b = buckets.setdefault(ts - ts % res, [y, y, 0.0, 0])
        b[0], b[1], b[2], b[3] = min(b[0], y), max(b[1], y), b[2] + y, b[3] + 1
    return buckets


@given(
    steps=st.lists(st.integers(min_value=1, max_value=25_000), min_size=1, max_size=300),
    values=st.lists(st.integers(min_value=-1000, max_value=1000), min_size=300, max_size=300),
    cuts=st.sets(st.integers(min_value=0, max_value=299), max_size=20),
    max_points=st.integers(min_value=1, max_value=400),
)
@settings(max_examples=150, deadline=None)
def test_tiers_hold_every_point_even_after_raw_trims(steps, values, cuts, max_points):
    """Points reach the tiers lazily; whatever is trimmed from raw (bound or prune), snapshots
    taken at any moment see the same buckets as updating every bucket on every point."""
    store = SeriesStore(window_ms=60_000, max_points=max_points, max_series=10)
    base = 1_800_000_000_000
    ts, points = base, []
    for i, step in enumerate(steps):
        ts += step
        y = float(values[i])
        store.add(sample("h", ts, m=y), Batch())
        points.append((ts, y))
        if i in cuts:  # a prune, a fold or a long-window snapshot in the middle of the stream
            if i % 3 == 1:
                store.prune(now_ms=ts)
            elif i % 3 == 2:
                store.fold()
            else:
                store.snapshot(window_ms=3_600_000, now_ms=ts)
    for window, res in ((3_600_000, 10_000), (86_400_000, 60_000)):
        snap = store.snapshot(window_ms=window, now_ms=ts)[0]
        assert snap["res"] == res
        want = {b: v for b, v in _reference_buckets(points, res).items() if b > ts - window - res}
        assert snap["ts"] == sorted(want)
        assert snap["min"] == [want[b][0] for b in snap["ts"]]
        assert snap["max"] == [want[b][1] for b in snap["ts"]]
        assert snap["y"] == pytest.approx([want[b][2] / want[b][3] for b in snap["ts"]])
    raw = store.snapshot(now_ms=ts)[0]
    kept = [p for p in points if p[0] >= ts - 60_000][-max_points:]
    assert list(zip(raw["ts"], raw["y"], strict=True)) == kept


def test_a_long_replay_is_folded_as_it_is_read(monkeypatch):
    """Not all at once by the first page that asks for buckets after a restart."""
    monkeypatch.setattr(store_module, "FOLD_AFTER", 50)
    store = SeriesStore(window_ms=600_000, max_points=1000, max_series=10)
    base = 1_800_000_000_000
    for i in range(120):  # 2 series: 240 points, folded every 50
        store.add(sample("h", base + i * 1000, a=float(i), b=1.0), Batch())
    folded = [s.folded for s in store._series.values()]
    assert all(200 // 2 <= f <= 120 for f in folded), folded  # the last fold was at ≥ 200 points
    assert store.snapshot(now_ms=base + 119_000, res_ms=10_000)[0]["ts"][-1] == base + 110_000


def test_the_batch_of_a_tick_gets_every_stored_point_once_across_samples_and_batches():
    store = SeriesStore(window_ms=60_000, max_points=100, max_series=10)
    first, second = Batch(), Batch()
    store.add(sample("a", 1000, x=1.0, y=2.0), first)
    store.add(sample("b", 1000, x=3.0), first)
    store.add(sample("a", 2000, x=4.0), first)
    store.add(sample("a", 3000, x=5.0), second)  # a new tick: a new batch, the old one untouched
    store.add(sample("a", 4000, x=6.0), first)  # an older batch again (not what the hub does, but safe)
    assert first.points == {("a", "x"): ([1000, 2000, 4000], [1.0, 4.0, 6.0]), ("a", "y"): ([1000], [2.0]),
                            ("b", "x"): ([1000], [3.0])}
    assert second.points == {("a", "x"): ([3000], [5.0])}
