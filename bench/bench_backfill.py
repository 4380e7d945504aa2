"""Backfill: a dashboard restart with 15 min × 50 hosts in the topic, then a fresh page.

1. The topic gets 15 minutes of 1 Hz samples from 50 simulated hosts × 20 metrics (sample times
   ending now), and the hosts keep sending live. A first dashboard replays it; it is stopped and a
   second one started: the restart. Timed from spawn: /healthz answers, `backfill_progress` == 1, and
   `points` covering everything produced inside the window (/healthz polled back to back; a slow
   answer means the event loop was busy storing).
2. A fresh page (new browser context, cold cache) in headless Chromium via Playwright: from
   navigation until every series is drawn with its full window, read from `Chart.instances` at each
   animation frame. The snapshot's arrival time and size come from a WebSocket hook in the page.
   Target (issue #4): < 1 s for the page.

    python -m bench.bench_backfill [--quick] [--minutes 15] [--hosts 50] [--metrics 20] [--page-runs 3]
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Sequence
from typing import Any

from bench.common import (
    Dashboard,
    LiveFleet,
    chromium,
    header,
    host_names,
    kafka,
    metric_names,
    new_topic,
    parser,
    prefill,
    say,
    table,
    workdir,
)

WINDOW_MS = 900_000  # the dashboard's default history_seconds

# Runs before the page's own scripts: note when the first snapshot arrives and how big it is.
HOOK = """(() => {
  const Native = window.WebSocket;
  window.__bench = {snapshotAt: null, snapshotBytes: null};
  function Hooked(url, protocols) {
    const ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
    ws.addEventListener('message', (ev) => {
      const text = typeof ev.data === 'string' ? ev.data : '';
      if (window.__bench.snapshotAt === null && text.startsWith('{"type":"snapshot"')) {
        window.__bench.snapshotAt = Date.now();
        window.__bench.snapshotBytes = text.length;
      }
    });
    return ws;
  }
  Hooked.prototype = Native.prototype;
  Object.assign(Hooked, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
  window.WebSocket = Hooked;
})();"""

# True once every expected series is a dataset with at least minPoints points and has been laid out.
DRAWN = """([nSeries, minPoints]) => {
  if (!window.Chart || !window.Chart.instances) return false;
  let ok = 0, datasets = 0, points = 0;
  const charts = Object.values(window.Chart.instances);
  for (const chart of charts) {
    chart.data.datasets.forEach((d, i) => {
      datasets += 1;
      points += d.data.length;
      const meta = chart.getDatasetMeta(i);
      if (d.data.length >= minPoints && meta && meta.data && meta.data.length > 0) ok += 1;
    });
  }
  return ok >= nSeries ? {at: Date.now(), datasets, points, charts: charts.length} : false;
}"""


# The page's own first complete picture (every chart in view drawn over the whole window; 10 s buckets
# for a view this big), ms since navigation start: bench_page's "first paint".
FIRST_PAINT = """() => { const m = window.dash_clientside && window.dash_clientside.metrics;
  const s = m && m.drawnState ? m.drawnState(0) : null; return s && s.firstPaintAt; }"""


class Watch:
    """Polls /healthz back to back from spawn; notes when each condition first held."""

    def __init__(self, dash: Dashboard, expected_points: Any) -> None:
        self.dash, self.expected_points = dash, expected_points
        self.up: float | None = None
        self.backfilled: float | None = None
        self.caught_up: float | None = None
        self.slowest = 0.0
        self.last: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and self.caught_up is None:
            asked = time.monotonic()
            try:
                h = self.dash.healthz(timeout=120)
            except Exception:
                if not self.dash.child.alive():
                    return
                time.sleep(0.02)
                continue
            now = time.monotonic()
            self.last = h
            if self.up is not None:
                self.slowest = max(self.slowest, now - asked)
            t = now - self.dash.started
            self.up = self.up if self.up is not None else t
            if self.backfilled is None and h.get("backfill_progress", 0) >= 1.0:
                self.backfilled = t
            if h["points"] >= self.expected_points() and self.backfilled is not None:
                self.caught_up = t
            time.sleep(0.02)

    def join(self) -> None:
        self._thread.join(160)


def _restart(tmp: Any, bs: str, topic: str, name: str, expected: Any) -> tuple[Dashboard, Watch]:
    dash = Dashboard(tmp, bs, topic, name=name)
    watch = Watch(dash, expected)
    watch.join()
    if watch.caught_up is None:
        dash.stop()
        raise RuntimeError(f"{name}: store not caught up in time (last /healthz {watch.last})")
    return dash, watch


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, help="history in the topic [15; quick 5]")
    p.add_argument("--hosts", type=int, default=50)
    p.add_argument("--metrics", type=int, default=20)
    p.add_argument("--page-runs", type=int, help="fresh pages to time [3; quick 1]")
    args = p.parse_args(argv)
    minutes = args.minutes or (5.0 if args.quick else 15.0)
    runs = args.page_runs or (1 if args.quick else 3)
    hosts, metrics = host_names(args.hosts), metric_names(args.metrics)
    n_series = len(hosts) * len(metrics)
    header(f"Backfill: dashboard restart with {minutes:g} min × {args.hosts} hosts in the topic, then a fresh page",
           args)
    from playwright.sync_api import sync_playwright

    with workdir("backfill", args.keep) as tmp, kafka(tmp) as broker:
        bs = broker.bootstrap_servers
        topic = new_topic(broker)
        per_host = int(minutes * 60)
        now_ms = int(time.time() * 1000)
        first_ts = now_ms - (per_host - 1) * 1000
        say(f"pre-filling {per_host * len(hosts):,} messages ({minutes:g} min × {args.hosts} hosts × "
            f"{args.metrics} metrics at 1 Hz)")
        sent, fill_s = prefill(bs, topic, hosts, metrics, per_host, first_ts, 1000)
        fleet = LiveFleet(bs, topic, hosts, metrics).start()

        def in_window_per_series(at_ms: float) -> int:
            """Prefilled samples of one series still inside the window at at_ms."""
            return sum(1 for k in range(per_host) if first_ts + k * 1000 >= at_ms - WINDOW_MS)

        def expected_points() -> int:
            return in_window_per_series(time.time() * 1000 + 1000) * n_series

        dashes: list[Dashboard] = []
        pages = []
        try:
            say("first dashboard: replaying")
            first, w1 = _restart(tmp, bs, topic, "dash-1", expected_points)
            dashes.append(first)
            say(f"first dashboard caught up {w1.caught_up:.1f} s after spawn; restarting it")
            first.stop()
            second, w2 = _restart(tmp, bs, topic, "dash-2", expected_points)
            dashes.append(second)
            say(f"second dashboard caught up {w2.caught_up:.1f} s after spawn")
            with sync_playwright() as pw:
                browser = chromium(pw)
                try:
                    for run in range(runs):
                        context = browser.new_context(viewport={"width": 1600, "height": 1000})
                        page = context.new_page()
                        page.add_init_script(HOOK)
                        nav_ms = time.time() * 1000
                        min_points = int(0.95 * in_window_per_series(nav_ms + 1000))
                        page.goto(second.url, wait_until="commit")
                        done = page.wait_for_function(DRAWN, arg=[n_series, min_points], polling="raf",
                                                      timeout=90_000).json_value()
                        bench = page.evaluate("() => window.__bench")
                        html = page.evaluate("() => performance.getEntriesByType('navigation')[0].responseEnd")
                        first = page.evaluate(FIRST_PAINT)
                        pages.append({"drawn": done["at"] - nav_ms, "snapshot": (bench["snapshotAt"] or 0) - nav_ms,
                                      "bytes": bench["snapshotBytes"] or 0, "html": html, "first": first or 0, **done,
                                      "min_points": min_points})
                        say(f"page {run + 1}: drawn {pages[-1]['drawn']:.0f} ms after navigation")
                        context.close()
                finally:
                    browser.close()
        finally:
            fleet.stop()
            for d in dashes:
                d.stop()

    print(f"{sent:,} messages pre-filled ({minutes:g} min × {args.hosts} hosts at 1 Hz, {args.metrics} metrics each "
          f"= {sent * len(metrics):,} points) in {fill_s:.1f} s; the hosts keep sending live meanwhile")
    print()
    print(table(["dashboard (from spawn)", "/healthz answers", "backfill_progress = 1", "store caught up",
                 "slowest /healthz answer", "points at the end"],
                [[label, f"{w.up:.1f} s", f"{w.backfilled:.1f} s", f"**{w.caught_up:.1f} s**", f"{w.slowest:.1f} s",
                  f"{w.last['points']:,}"] for label, w in (("first start", w1), ("restart", w2))]))
    print()
    rows = [[i + 1, f"{pg['html']:.0f}", f"**{pg['first']:.0f}**", f"{pg['snapshot']:.0f}",
             f"{pg['bytes'] / 2**20:.1f}", f"{pg['drawn']:.0f}", pg["charts"], f"{pg['datasets']:,}",
             f"{pg['points']:,}"] for i, pg in enumerate(pages)]
    print(table(["fresh page", "HTML received ms", "first picture ms", "raw snapshot received ms",
                 "raw snapshot MiB (decoded)", "all series raw, drawn ms", "charts", "datasets", "points drawn"],
                rows))
    print()
    drawn = statistics.median(pg["drawn"] for pg in pages)
    first = statistics.median(pg["first"] for pg in pages)
    print("First picture: the page's first complete draw of every chart in view over the whole window (10 s")
    print("buckets for a view this big; bench_page's first paint), from the page's clock. All series raw:")
    print(f"from navigation start (page.goto) to the first animation frame where every one of the {n_series:,}")
    print(f"series is a dataset with ≥ {pages[0]['min_points']} points (95 % of its window) and laid out. Headless")
    print("Chromium, --disable-gpu (software raster), driven by Playwright (whose Network domain copies every")
    print("WebSocket message to the client: slower than bench_page's raw CDP).")
    print(f"target < 1 s for the page: first picture median {first:.0f} ms → {'met' if first < 1000 else 'NOT met'}; "
          f"all series raw median {drawn:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
