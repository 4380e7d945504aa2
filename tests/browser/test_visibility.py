"""A hidden tab does not redraw, and catches up when it is shown again (issue #5), in both renderers.

Headless Chromium never hides a page: minimising its window, another tab in front and CDP
``Page.setWebLifecycleState`` (frozen/active) all leave ``document.visibilityState`` 'visible' and
animation frames running (checked with Chromium 156), and a frozen page runs no script at all, so it
would not show whether frames are still received and buffered. So the test makes the page hidden the
way a browser does it, from an init script:

- ``document.visibilityState`` / ``document.hidden`` report 'hidden' / true;
- ``requestAnimationFrame`` callbacks are held back, as browsers do in hidden tabs (Chart.js redraws
  are paced by animation frames, so without this the test would not exercise the real mechanism);
- a ``visibilitychange`` event is dispatched on each change, which is what the page listens to.

Frames keep arriving through the WebSocket component meanwhile. The page must buffer them without
a single Chart.js ``update()`` (Plotly: no ``extendTraces``/``react``), then draw all of them once
it is visible again.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.test_page import DEBUG, Stack, close_stack, open_stack
from tests.support import wait_for

pytestmark = pytest.mark.browser

HIDE = """() => {
  const vis = {hidden: false, held: []};
  window.__visibility = vis;
  Object.defineProperty(Document.prototype, 'visibilityState',
    {configurable: true, get() { return vis.hidden ? 'hidden' : 'visible'; }});
  Object.defineProperty(Document.prototype, 'hidden', {configurable: true, get() { return vis.hidden; }});
  const raf = window.requestAnimationFrame.bind(window);
  const caf = window.cancelAnimationFrame.bind(window);
  let next = -1;
  window.requestAnimationFrame = cb => {
    if (!vis.hidden) return raf(cb);
    vis.held.push({id: next, cb});  // a hidden tab runs no animation frames
    return next--;
  };
  window.cancelAnimationFrame = id => {
    if (id < 0) vis.held = vis.held.filter(h => h.id !== id); else caf(id);
  };
  window.__setHidden = hidden => {
    vis.hidden = hidden;
    if (!hidden) vis.held.splice(0).forEach(h => raf(h.cb));
    document.dispatchEvent(new Event('visibilitychange'));
  };
}"""

# Counts every redraw the renderer library is asked for.
COUNT_DRAWS = """renderer => {
  window.__draws = 0;
  const wrap = (obj, name) => {
    const f = obj[name];
    obj[name] = function () { window.__draws += 1; return f.apply(this, arguments); };
  };
  if (renderer === 'chartjs') wrap(Chart.prototype, 'update');
  else ['react', 'extendTraces', 'relayout', 'restyle', 'redraw', 'newPlot'].forEach(n => wrap(window.Plotly, n));
}"""

PLOTLY_DRAWN = """host => { const gd = document.querySelector('#plotly-graph .js-plotly-plot');
  const t = gd && gd.data && gd.data.find(t => t.name === host + ' · cpu.percent');
  return t ? t.x.length : 0; }"""
CHART_DRAWN = """host => { for (const c of Object.values(Chart.instances)) {
    const i = c.data.datasets.findIndex(d => d.label === host + ' · cpu.percent');
    const d = c.data.datasets[i];
    if (i >= 0) return c.getDatasetMeta(i).data.length > 0 ? (d._data || d.data).length : 0;
  } return 0; }"""


@pytest.fixture(scope="module")
def stack(kafka_broker, tmp_path_factory) -> Iterator[Stack]:
    s = open_stack(kafka_broker, tmp_path_factory.mktemp("visibility"))
    yield s
    close_stack(s)


def model_points(page, host: str) -> int:
    return next((s["points"] for s in page.evaluate(DEBUG)["series"]
                 if s["host"] == host and s["metric"] == "cpu.percent"), 0)


@pytest.mark.parametrize("renderer", ["chartjs", "plotly"])
def test_hidden_tab_buffers_without_redrawing_and_catches_up_when_shown(page, stack, renderer):
    host = f"vis-{renderer}"
    producer = stack.produce(host, interval=0.2)
    page.add_init_script(f"({HIDE})()")
    page.goto(stack.url + ("?renderer=plotly" if renderer == "plotly" else ""))
    drawn_script = CHART_DRAWN if renderer == "chartjs" else PLOTLY_DRAWN
    wait_for(lambda: page.evaluate(drawn_script, host) >= 5, 60, f"{host} drawn")
    page.evaluate(COUNT_DRAWS, renderer)
    wait_for(lambda: page.evaluate("window.__draws") > 0, 20, "live redraws while visible")

    # hidden: the count is read in the same task that hides the page, so nothing can slip between
    draws_hidden = page.evaluate("() => { window.__setHidden(true); return window.__draws; }")
    at_hide = model_points(page, host)
    drawn_at_hide = page.evaluate(drawn_script, host)
    wait_for(lambda: model_points(page, host) >= at_hide + 15, 30, "frames to keep arriving while hidden")
    assert page.evaluate("document.visibilityState") == "hidden"
    assert page.evaluate("window.__draws") == draws_hidden, "no redraw in a hidden tab"
    assert page.evaluate(drawn_script, host) == drawn_at_hide, "the chart still shows what it showed"

    # visible again: everything that arrived meanwhile is drawn
    page.evaluate("window.__setHidden(false)")
    buffered = model_points(page, host)
    wait_for(lambda: page.evaluate(drawn_script, host) >= buffered, 20, "the catch-up draw")
    assert page.evaluate("window.__draws") > draws_hidden
    assert producer.stop() == 0
    assert page.errors == []
