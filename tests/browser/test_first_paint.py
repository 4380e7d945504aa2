"""First paint of a big view (issue #5): buckets first, then the raw window, then live — nothing lost.

A fresh page asks the relay for 10 s buckets when the raw 15 min window would hold more than 200k
points (docs/protocol.md, ``res``/``res_over``), draws them, then asks for the raw window and resumes.
Here 20 hosts × 12 metrics × 15 min at 1 Hz = 216k raw points: over the line. The same page filtered
to one metric family by its URL (18k points) is answered raw at once.

The first snapshot is fetched over HTTP (``<prefix>snapshot``) while Dash loads; when that fetch fails,
the socket's hello asks for it instead. Both paths are tested.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.browser.test_page import DEBUG, Stack, close_stack, open_stack
from tests.support import healthz, wait_for

pytestmark = pytest.mark.browser

HOSTS = [f"fp-{i:02d}" for i in range(20)]
METRICS = [f"app{k}.value" for k in range(12)]
POINTS = 900
STATE = "window.dash_clientside.metrics.drawnState(0)"


@pytest.fixture(scope="module")
def stack(kafka_broker, tmp_path_factory) -> Iterator[Stack]:
    s = open_stack(kafka_broker, tmp_path_factory.mktemp("first-paint"))
    start = int(time.time() * 1000) - (POINTS - 1) * 1000
    s.start = start  # type: ignore[attr-defined]
    for h, host in enumerate(HOSTS):
        s.send(host, [(start + i * 1000, {m: float((i + h + k) % 100) for k, m in enumerate(METRICS)})
                      for i in range(POINTS)])
    wait_for(lambda: healthz(s.url)["points"] == len(HOSTS) * len(METRICS) * POINTS, 60, "the store filled")
    yield s
    close_stack(s)


def raw_everywhere(page, n_series: int, min_points: int):
    d = page.evaluate(DEBUG)
    raw = [s for s in d["series"] if not s["res"] and s["points"] >= min_points]
    return d if len(raw) == n_series and d["fullDrawAt"] and d["drawn"] != [] else None


@pytest.mark.parametrize("fetched", ["early", "late", "failed"])
def test_a_big_view_draws_buckets_first_then_the_raw_window_then_live(page, stack, fetched):
    held = []
    if fetched == "failed":
        page.route("**/snapshot?*", lambda route: route.abort())
    elif fetched == "late":  # held until the socket is open
        page.route("**/snapshot?*", lambda route: held.append(route))
    page.goto(stack.url)
    if fetched == "late":
        wait_for(lambda: held and page.evaluate(DEBUG)["socketOpen"], 30, "the socket open, the fetch held")
        time.sleep(0.3)  # the relay would have answered a hello by now
        held[0].continue_()
    d = wait_for(lambda: raw_everywhere(page, len(HOSTS) * len(METRICS), POINTS - 60), 90,
                 "every series raw and drawn")
    events = [what for _t, what in d["timeline"]["events"]]
    applied = [i for i, e in enumerate(events) if e == "snapshot applied"]
    if fetched == "early":  # the buckets came over HTTP before the socket opened; its hello asked for the raw window
        assert events.index("snapshot fetched") < applied[0] < events.index("socket open"), events
        asked = events.index("raw window asked")
        assert "buckets applied: raw window asked" not in events
    elif fetched == "late":  # the socket waited for the fetch instead of asking for the same snapshot
        assert events.index("socket open") < events.index("snapshot fetched") < applied[0], events
        asked = events.index("raw window asked")
        assert "buckets applied: raw window asked" not in events
    else:  # the socket's hello asked for the buckets, then the raw window
        assert "snapshot fetched" not in events
        asked = events.index("buckets applied: raw window asked")
    assert len(applied) == 2 and applied[0] < asked < applied[1], events
    drew = [i for i, e in enumerate(events) if e.startswith("drew ")]
    assert drew and drew[0] < applied[1], f"buckets drawn before the raw window came: {events}"
    st = page.evaluate(STATE)
    assert st["firstPaintAt"] < d["snapshotAt"] < d["fullDrawAt"], st
    assert d["snapshotsAsked"] == 1  # the raw window

    # the raw window is exactly what was produced (the window's left edge trims a few)
    label = f"{HOSTS[3]} · {METRICS[5]}"
    xs = wait_for(lambda: next((s["xs"] for s in page.evaluate(XS) if s["label"] == label), None), 10, label)
    sent = {stack.start + i * 1000 for i in range(POINTS + 10)}  # with the live samples the tests add
    assert len(xs) == len(set(xs)) and set(xs) <= sent and len(xs) >= POINTS - 60
    # and live frames follow: a new sample shows up
    new_ts = stack.start + (POINTS + {"early": 1, "late": 2, "failed": 3}[fetched]) * 1000
    stack.send(HOSTS[3], [(new_ts, {m: 1.0 for m in METRICS})])
    wait_for(lambda: new_ts in next(s["xs"] for s in page.evaluate(XS) if s["label"] == label), 20,
             "the live sample drawn")
    d = page.evaluate(DEBUG)
    assert d["resumes"] >= 1 and d["snapshotsAsked"] == 1, "live by resuming, no snapshot asked again"
    assert page.errors == []


def test_a_small_view_is_answered_raw_at_once_and_goes_live(page, stack):
    page.goto(stack.url + "?metrics=app0.*")
    d = wait_for(lambda: raw_everywhere(page, len(HOSTS), POINTS - 60), 60, "20 series raw and drawn")
    events = [what for _t, what in d["timeline"]["events"]]
    assert "snapshot fetched" in events and "raw window asked" not in events
    assert "buckets applied: raw window asked" not in events
    assert d["snapshotsAsked"] == 0 and page.evaluate(STATE)["firstPaintAt"] == d["fullDrawAt"]
    # from the fetched snapshot the socket resumes: a new sample shows up, nothing asked again
    label = f"{HOSTS[7]} · {METRICS[0]}"
    new_ts = stack.start + (POINTS + 5) * 1000
    stack.send(HOSTS[7], [(new_ts, {METRICS[0]: 2.0})])
    wait_for(lambda: new_ts in next((s["xs"] for s in page.evaluate(XS) if s["label"] == label), []), 20,
             "the live sample drawn")
    d = page.evaluate(DEBUG)
    assert d["resumes"] >= 1 and d["snapshotsAsked"] == 0
    assert page.errors == []


XS = """() => Object.values(Chart.instances).flatMap(c => c.data.datasets.filter(d => !d.band).map(d => ({
    label: d.label, xs: (d._data || d.data).map(p => p.x)})))"""
