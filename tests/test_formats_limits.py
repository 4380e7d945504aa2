"""Series caps per host and in total, with idle series forgotten first (dash_app/formats/limits.py + Decoder)."""

from __future__ import annotations

from dash_app.formats import Decoder, FormatOptions
from dash_app.formats.limits import SeriesLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_per_host_and_total_caps():
    lim = SeriesLimiter(max_per_host=2, max_total=3, idle_s=60)
    assert lim.admit("a", "x", 0) is None
    assert lim.admit("a", "y", 0) is None
    assert lim.admit("a", "z", 0) == "series_cap_host"
    assert lim.admit("a", "x", 0) is None  # known series always pass
    assert lim.admit("b", "x", 0) is None
    assert lim.admit("b", "y", 0) == "series_cap_total"
    assert (len(lim), lim.hosts()) == (3, 2)


def test_idle_series_are_forgotten_when_a_cap_is_reached():
    forgotten = []
    lim = SeriesLimiter(max_per_host=10, max_total=2, idle_s=60, on_forget=lambda h, s: forgotten.append((h, s)))
    lim.admit("a", "old", 0)
    lim.admit("b", "busy", 0)
    lim.admit("b", "busy", 50)
    assert lim.admit("c", "new", 59) == "series_cap_total"  # nothing idle for 60 s yet
    assert lim.admit("c", "new", 61) == "series_cap_total"  # at most one sweep per idle_s / 10
    assert lim.admit("c", "new", 66) is None
    assert forgotten == [("a", "old")]
    assert lim.hosts() == 2 and lim.forgotten == 1


def test_decoder_caps_are_counted_and_memory_stays_bounded():
    clock = Clock()
    d = Decoder(FormatOptions(max_series_per_host=50, max_series_total=200), clock=clock)
    refused = 0
    for host in range(20):
        value = b"".join(b"m,host=h%d,i=%d f=1 1700000000000000000\n" % (host, i) for i in range(80))
        [s] = d.decode(value)
        refused += s.skipped_metrics
    assert d.series_count == 200
    assert len(d.limiter) == 200 and d.limiter.hosts() == 4
    assert d.dropped == {"series_cap_host": 4 * 30, "series_cap_total": 16 * 80}
    assert refused == 4 * 30 + 16 * 80


def test_rate_state_follows_the_limiter():
    clock = Clock()
    d = Decoder(FormatOptions(max_series_total=1, series_idle_s=10), clock=clock)
    line = b"net,host=%s bytes_recv=%di %d\n"
    d.decode(line % (b"a", 100, 1_700_000_000 * 10**9))
    assert len(d.rates) == 1
    clock.now += 11
    d.decode(line % (b"b", 100, 1_700_000_000 * 10**9))  # a is idle: forgotten, with its counter state
    assert len(d.rates) == 1
    assert d.limiter.forgotten == 1


def test_a_flood_of_new_names_is_refused_cheaply_and_counted():
    d = Decoder(FormatOptions(max_series_per_host=5, max_series_total=10))
    for batch in range(50):
        value = b"".join(b"m,host=h%d,i=%d f=1 1700000000000000000\n" % (i % 7, batch * 100 + i) for i in range(100))
        d.decode(value)
    assert d.series_count == 10
    assert sum(d.dropped.values()) == 50 * 100 - 10
