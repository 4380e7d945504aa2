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
