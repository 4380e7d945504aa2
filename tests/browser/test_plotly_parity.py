"""The Plotly fallback matches Chart.js where it counts (issue #5): a min–max band under bucketed
series that follows live samples, ticks at round numbers of the unit (binary prefixes for bytes), an
x axis spanning the selected window and ending at now (not seconds ahead), legend items usable from
the keyboard, stale series grey with their age in the hover text, same colours and names. Real
Chromium against the real broker and relay (``--stale-seconds 3``).

Points drawn exactly once through extendData: tests/browser/test_page.py.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Iterator

import orjson
import pytest
from confluent_kafka import Producer

from tests.browser.test_page import DEBUG, Stack, close_stack, now_ms, open_stack
from tests.support import wait_for

pytestmark = pytest.mark.browser

MiB = 1024 * 1024
HOST = "plot-1"

# Plotly's own view of the graph: traces (name, fill, colour, visible, template) and axes.
GRAPH = """() => {
  const gd = document.querySelector('#plotly-graph .js-plotly-plot');
  if (!gd || !gd.data || !gd.layout) return null;
  const axes = {};
  for (const k of Object.keys(gd.layout)) {
    if (/^[xy]axis\\d*$/.test(k)) axes[k] = {range: gd.layout[k].range, ticktext: gd.layout[k].ticktext || null};
  }
  return {
    traces: gd.data.map(t => ({name: t.name, fill: t.fill || null, colour: t.line && t.line.color,
      dash: t.line && t.line.dash, visible: t.visible, template: t.hovertemplate || '', n: t.x.length,
      yaxis: t.yaxis, xaxis: t.xaxis})),
    axes,
  };
}"""
# At each of the next `n` redraws (plotly_afterplot): the end of the x range of the named trace's
# axis, the page's clock, and the newest x the trace holds; whatever came by then after 40 s.
RANGE_AT_REDRAWS = """([name, n]) => new Promise(resolve => {
  const gd = document.querySelector('#plotly-graph .js-plotly-plot');
  const ms = v => typeof v === 'string' ? new Date(v.replace(' ', 'T') + 'Z').getTime() : v;
  const out = [];
  let timer = 0;
  const on = () => {
    const t = gd.data.find(d => d.name === name);
    if (!t) return;
    const ax = gd.layout[t.xaxis.replace('x', 'xaxis')];
    out.push({end: ms(ax.range[1]), now: Date.now(), newest: t.x[t.x.length - 1]});
    if (out.length >= n) done();
  };
  const done = () => { gd.removeListener('plotly_afterplot', on); clearTimeout(timer); resolve(out); };
  timer = setTimeout(done, 40000);
  gd.on('plotly_afterplot', on);
})"""
# The x and y of a series' line and of its band's max and min traces, as Plotly holds them.
BAND = """name => {
  const gd = document.querySelector('#plotly-graph .js-plotly-plot');
  const get = n => { const t = (gd && gd.data || []).find(d => d.name === n);
    return t ? {x: Array.from(t.x), y: Array.from(t.y)} : null; };
  return {line: get(name), hi: get(name + ' (max)'), lo: get(name + ' (min)')};
}"""
LEGEND = """() => Array.from(document.querySelectorAll('#plotly-graph .legend g.traces')).map(g => ({
  text: g.textContent, role: g.getAttribute('role'), tabindex: g.getAttribute('tabindex'),
  pressed: g.getAttribute('aria-pressed'), label: g.getAttribute('aria-label')}))"""


@pytest.fixture(scope="module")
def stack(kafka_broker, tmp_path_factory) -> Iterator[Stack]:
    s = open_stack(kafka_broker, tmp_path_factory.mktemp("plotly"), "--stale-seconds", "3")
    yield s
    close_stack(s)


def graph(page):
    return page.evaluate(GRAPH)


def trace(g, name: str) -> dict:
    return next(t for t in g["traces"] if t["name"] == name)


def test_plotly_long_window_band_ticks_range_keyboard_legend_and_stale(page, stack):
    now = now_ms()
    sent = [now - 840_000 + i * 5000 for i in range(169)]  # 14 min of history, a sample every 5 s
    stack.send(HOST, [(ts, {"cpu.percent": float(20 + i % 50), "net.rx_bytes_per_s": float((i % 7) * MiB)})
                      for i, ts in enumerate(sent)])
    page.goto(stack.url + "?renderer=plotly&window=1h")  # longer than the relay's raw 15 min: 10 s buckets
    cpu, net = f"{HOST} · cpu.percent", f"{HOST} · net.rx_bytes_per_s"

    def drawn():
        g = graph(page)
        names = {t["name"] for t in g["traces"]} if g else set()
        return g if {cpu, net, cpu + " (max)", cpu + " (min)", net + " (max)", net + " (min)"} <= names else None

    g = wait_for(drawn, 30, "both series with their min–max bands in the Plotly graph")
    # the band: max, then min filled to it, in the series' colour family; hover skips it
    assert trace(g, cpu + " (min)")["fill"] == "tonexty" and trace(g, cpu + " (max)")["fill"] is None
    assert trace(g, cpu + " (min)")["n"] == trace(g, cpu)["n"] >= 80, "one band point per bucket"
    series = {s["metric"]: s for s in page.evaluate(DEBUG)["series"] if s["host"] == HOST}
    assert series["cpu.percent"]["res"] == 10_000

    # y ticks: round numbers of the unit, binary prefixes for bytes, % up to 100
    yaxis = {t["name"]: t["yaxis"].replace("y", "yaxis") for t in g["traces"]}
    net_ticks = g["axes"][yaxis[net]]["ticktext"]
    assert any(t.endswith("MiB/s") for t in net_ticks), net_ticks
    assert all(re.fullmatch(r"\d+ (|Ki|Mi)B/s", t) for t in net_ticks), net_ticks
    cpu_ticks = g["axes"][yaxis[cpu]]["ticktext"]
    assert cpu_ticks[0] == "0 %" and cpu_ticks[-1] == "100 %", cpu_ticks

    # x axis: the selected window, ending at now like Chart.js's (it used to end up to 5 s ahead)
    xaxis = trace(g, cpu)["xaxis"].replace("x", "xaxis")
    lo, hi = (page.evaluate("s => new Date(s.replace(' ', 'T') + 'Z').getTime()", v) if isinstance(v, str) else v
              for v in g["axes"][xaxis]["range"])
    assert hi - lo == pytest.approx(3_600_000, abs=1000), "the axis spans the selected hour"
    assert now - 60_000 < hi <= now_ms() + 250

    # same colours and names as Chart.js: colour from the series name (or grey once stale)
    expected = page.evaluate("""k => { const m = window.dash_clientside.metrics;
        return [m.view.colourFor(k, 'light'), m.view.staleColour('light')]; }""", f"{HOST}\u001fcpu.percent")
    assert trace(graph(page), cpu)["colour"] in expected

    # keyboard: one tab stop on the legend; Enter hides the series and its band; arrows move; Space shows
    wait_for(lambda: any(i["role"] == "button" for i in page.evaluate(LEGEND)), 10, "legend items as buttons")
    items = page.evaluate(LEGEND)
    assert [i["tabindex"] for i in items].count("0") == 1
    page.locator("#plotly-graph .legend g.traces[tabindex='0']").focus()
    first = page.evaluate("document.activeElement.textContent")
    page.keyboard.press("Enter")
    wait_for(lambda: trace(graph(page), first)["visible"] == "legendonly", 5, "Enter to hide the focused series")
    assert trace(graph(page), first + " (max)")["visible"] == "legendonly", "its band goes with it"
    wait_for(lambda: next(i for i in page.evaluate(LEGEND) if i["text"] == first)["pressed"] == "false", 5,
             "aria-pressed to follow")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.textContent") != first
    page.keyboard.press("ArrowLeft")
    assert page.evaluate("document.activeElement.textContent") == first
    page.keyboard.press(" ")
    wait_for(lambda: trace(graph(page), first)["visible"] is True, 5, "Space to show it again")

    # the host sends nothing more: stale after 3 s, grey and dotted, its age in the hover text and legend
    def stale():
        t = trace(graph(page), cpu)
        return t if re.search(r"stale: nothing for \d+ (s|min)", t["template"]) else None

    t = wait_for(stale, 20, "the stale age in the hover text")
    assert t["colour"] == expected[1] and t["dash"] == "dot"
    age1 = re.search(r"nothing for (\d+)", t["template"]).group(1)
    wait_for(lambda: re.search(r"nothing for (\d+)", trace(graph(page), cpu)["template"]).group(1) != age1, 10,
             "the age to move on without a rebuild")
    assert any("stale: nothing for" in (i["label"] or "") for i in page.evaluate(LEGEND) if i["text"] == cpu)
    assert page.errors == []


class LiveSender:
    """cpu.percent of one host every `every` s, stamped with the time of sending, from a thread;
    `sent` holds (ts, value) in order. Values swing wider and wider around 50 (a cycle of 15)."""

    def __init__(self, bootstrap: str, topic: str, host: str, every: float = 0.5) -> None:
        self.sent: list[tuple[int, float]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._args = (bootstrap, topic, host, every)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        bootstrap, topic, host, every = self._args
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
        k = 0
        while not self._stop.is_set():
            ts = int(time.time() * 1000)
            value = 50.0 + (1 if k % 2 else -1) * 3.0 * (k % 15)
            doc = {"v": 1, "host": host, "ts": ts, "seq": 1000 + k, "metrics": {"cpu.percent": value}}
            producer.produce(topic, key=host.encode(), value=orjson.dumps(doc))
            producer.flush(5)
            with self._lock:
                self.sent.append((ts, value))
            k += 1
            self._stop.wait(every)
        producer.flush(5)

    def samples(self) -> list[tuple[int, float]]:
        with self._lock:
            return list(self.sent)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)


def test_plotly_live_range_ends_at_now_and_band_follows_live_samples(page, stack):
    """Issue #5: in a 1 h window (10 s buckets) with samples arriving, the x range ends at now at
    every redraw, like Chart.js's, never seconds ahead; the min–max band is extended with the line
    (same x, no point twice) and over the bucket being filled it is the running min–max of its
    samples, widening as they come."""
    host = "plot-live"
    name = f"{host} · cpu.percent"
    now = now_ms()
    history = [now - 870_000 + i * 5000 for i in range(169)]  # 14 min of history, ending 30 s ago
    stack.send(host, [(ts, {"cpu.percent": float(20 + i % 50)}) for i, ts in enumerate(history)])
    page.goto(stack.url + "?renderer=plotly&window=1h")

    def band_drawn():
        b = page.evaluate(BAND, name)
        return b if b["line"] and b["hi"] and b["lo"] and len(b["line"]["x"]) >= 80 else None

    wait_for(band_drawn, 30, "the series and its band in the Plotly graph")
    res = next(s for s in page.evaluate(DEBUG)["series"] if s["host"] == host)["res"]
    assert res == 10_000

    sender = LiveSender(stack.bootstrap, stack.topic, host)
    try:
        wait_for(lambda: len(page.evaluate(BAND, name)["line"]["x"]) > len(history) // 2 + 3, 30,
                 "live samples in the line")

        # the range at each redraw: ending at now (the page's clock at that redraw, less the time
        # from the payload's flush to its redraw: slack for a loaded machine), never ahead of it, the
        # newest sample on the plot. Before the fix it ended 0-5 s ahead of now at every redraw.
        # Payloads are 1 s apart here (a light view), up to the axis step (5 s) on a loaded machine.
        step = page.evaluate("window.dash_clientside.metrics.core.axisMoveMs(3600 * 1000)")
        redraws = page.evaluate(RANGE_AT_REDRAWS, [name, 5])
        assert len(redraws) >= 4, redraws
        for r in redraws:
            assert r["end"] <= r["now"], f"the x range ends {r['end'] - r['now']} ms ahead of now: {redraws}"
            assert r["now"] - r["end"] < 2500, f"the x range ends {r['now'] - r['end']} ms before now: {redraws}"
            assert r["newest"] <= r["end"], "the newest sample is on the plot"
            assert r["end"] - r["newest"] < step + 1500, f"the range ends {r['end'] - r['newest']} ms after the newest"

        # the band: the line's x, and over the bucket being filled the running min–max of what came
        widths: dict[int, list[float]] = {}

        def band_follows():
            b = page.evaluate(BAND, name)
            line, hi, lo = b["line"], b["hi"], b["lo"]
            assert hi["x"] == line["x"] and lo["x"] == line["x"], "the band has the line's points, each once"
            last = line["x"][-1]
            sent = [(ts, v) for ts, v in sender.samples() if ts // res == last // res and ts <= last]
            if not sent or sent[-1][0] != last:
                return None  # not a live sample yet, or the page is between two payloads
            vals = [v for _, v in sent]
            assert (hi["y"][-1], lo["y"][-1]) == (max(vals), min(vals)), (sent, hi["y"][-3:], lo["y"][-3:])
            widths.setdefault(last // res, []).append(max(vals) - min(vals))
            grew = [w for w in widths.values() if len(set(w)) > 1 and w[-1] > w[0]]
            return b if grew else None

        b = wait_for(band_follows, 45, "the band's last bucket to widen as live samples arrive")
        xs = b["line"]["x"]
        assert all(a < c for a, c in itertools.pairwise(xs)), "each point once, in order"
    finally:
        sender.close()
    assert page.errors == []
