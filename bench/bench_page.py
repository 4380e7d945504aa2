"""The page in headless Chromium (issue #5): cost of a live view, and time to a fully drawn view.

1. Live: 50 series × 3,600 points (50 simulated hosts × cpu.percent, 1 h at 1 Hz, prefilled to the
   topic; the dashboard keeps 1 h raw with --history-seconds 3600) open at ?window=1h while the 50
   hosts keep sending at 1 Hz. Over 60 s, CDP Performance.getMetrics before and after: main-thread
   busy (TaskDuration), script (ScriptDuration), layout + style, JS heap; as % of one core. Same run
   with ?renderer=plotly; the Chart.js/Plotly ratio is printed. Target: < 15 % of a core busy.
2. Navigation → fully drawn: a fresh Chromium (new profile, cold cache, driven over raw CDP so no
   Network domain copies the WebSocket messages) opens the default 15 min view of 50 hosts (1 metric,
   then the fleet's 20 metrics = 1,000 series), prefilled 15 min at 1 Hz. "Fully drawn" = every
   series holds its whole window and the renderer's first complete draw after the snapshot ended;
   the time is the end of that draw (performance.now(), i.e. since navigation start). Target: < 1 s.

    python -m bench.bench_page [--quick] [--seconds 60] [--runs 3]
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from typing import Any

from bench.common import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Dashboard,
    LiveFleet,
    chromium,
    header,
    host_names,
    kafka,
    median,
    metric_names,
    new_topic,
    parser,
    prefill,
    say,
    table,
    wait_for,
    workdir,
)

DEBUG = "window.dash_clientside && window.dash_clientside.metrics.debugState"
# True (with timings) once `n` series each hold ≥ `minPoints` points and the renderer has drawn
# everything since the snapshot arrived (fullDrawAt: end of that draw, ms since navigation start).
DRAWN = """([n, minPoints]) => {
  const m = window.dash_clientside && window.dash_clientside.metrics;
  if (!m || !(m.drawnState || m.debugState)) return false;
  let st = m.drawnState ? m.drawnState(minPoints) : null;  // cheap: this runs every 50 ms while the page draws
  if (!m.drawnState) {  // a tree from before drawnState (to compare): the same from debugState, dearer
    const d = m.debugState();
    st = d && {full: d.series.filter(s => s.points >= minPoints).length, points: d.points, fullDrawAt: d.fullDrawAt,
               snapshotAt: d.snapshotAt, connectAt: d.timeline.connect, timeline: d.timeline, resumes: 0,
               snapshotsAsked: d.gaps};
  }
  if (!st || st.full < n || !st.fullDrawAt) return false;
  return {drawnAt: st.fullDrawAt, firstPaintAt: st.firstPaintAt || st.fullDrawAt,
          snapshotAt: st.snapshotAt, connectAt: st.connectAt, series: st.full,
          points: st.points, timeline: st.timeline, resumes: st.resumes, snapshotsAsked: st.snapshotsAsked};
}"""
CDP_METRICS = ("TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration", "JSHeapUsedSize",
               "Nodes")


def cdp_metrics(cdp: Any) -> dict[str, float]:
    got = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return {k: got.get(k, 0.0) for k in CDP_METRICS}


def live_run(browser: Any, url: str, n_series: int, points: int, seconds: float) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    try:
        started = time.monotonic()
        page.goto(url)
        page.wait_for_function(DRAWN, arg=[n_series, points], timeout=120_000, polling=200)
        say(f"  {url}: drawn in {time.monotonic() - started:.1f} s; settling 5 s")
        time.sleep(5)  # the first draws and GC of the snapshot are not the steady state
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable", {"timeDomain": "timeTicks"})
        before = cdp_metrics(cdp)
        draws0, draw_ms0 = page.evaluate(f"[{DEBUG}().draws, {DEBUG}().drawMs]")
        t0 = time.monotonic()
        time.sleep(seconds)
        wall = time.monotonic() - t0
        after = cdp_metrics(cdp)
        state = page.evaluate(f"{DEBUG}()")
        return {
            "busy": 100 * (after["TaskDuration"] - before["TaskDuration"]) / wall,
            "script": 100 * (after["ScriptDuration"] - before["ScriptDuration"]) / wall,
            "layout": 100 * (after["LayoutDuration"] + after["RecalcStyleDuration"]
                             - before["LayoutDuration"] - before["RecalcStyleDuration"]) / wall,
            "heap_mb": after["JSHeapUsedSize"] / 2**20,
            "draws_per_s": (state["draws"] - draws0) / wall,
            "draw": 100 * (state["drawMs"] - draw_ms0) / 1000 / wall,
            "points": state["points"],
            "lag_ms": state["lag"],
            "gaps": state["gaps"],
        }
    finally:
        context.close()


NAV = """(() => { const n = performance.getEntriesByType('navigation')[0];
    return {dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd}; })()"""


async def _time_to_drawn(url: str, n_series: int, points: int) -> dict[str, Any]:
    import websockets

    tmp = tempfile.mkdtemp(prefix="bench-page-cdp-")  # a fresh profile: cold cache
    proc = subprocess.Popen([CHROMIUM, "--headless", *CHROMIUM_ARGS, "--remote-debugging-port=0",
                             f"--user-data-dir={tmp}", "--window-size=1440,900", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if m := re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line):
                break
        else:
            raise RuntimeError("chromium did not start its DevTools endpoint")
        with urllib.request.urlopen(f"http://127.0.0.1:{m.group(1)}/json", timeout=10) as r:
            target = next(t for t in json.load(r) if t["type"] == "page")
        async with websockets.connect(target["webSocketDebuggerUrl"], max_size=None) as ws:
            ids = iter(range(1, 1 << 30))

            async def call(method: str, params: dict[str, Any] | None = None) -> Any:
                my = next(ids)
                await ws.send(json.dumps({"id": my, "method": method, "params": params or {}}))
                while True:
                    reply = json.loads(await ws.recv())
                    if reply.get("id") == my:
                        return reply.get("result", {})

            async def value(expression: str) -> Any:
                got = await call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
                return got.get("result", {}).get("value")

            await call("Emulation.setDeviceMetricsOverride",
                       {"width": 1440, "height": 900, "deviceScaleFactor": 1, "mobile": False})
            await call("Page.navigate", {"url": url})
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                got = await value(f"({DRAWN})([{n_series}, {points}])")
                if got:
                    return {**got, **(await value(NAV)), "load": os.getloadavg()[0]}
                await asyncio.sleep(0.05)
            raise RuntimeError(f"{url}: not drawn within 120 s")
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def time_to_drawn(url: str, n_series: int, points: int) -> dict[str, Any]:
    """One navigation in a fresh Chromium driven over raw CDP (Runtime only). Playwright enables CDP's
    Network domain on every page, which copies each WebSocket message to the client on the page's
    main thread: for the 17 MiB snapshot of 1,000 series that added ~0.3-1 s before the page saw it."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's loop
        return pool.submit(asyncio.run, _time_to_drawn(url, n_series, points)).result()


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=60.0, help="length of each live measurement")
    p.add_argument("--runs", type=int, default=3, help="navigations per time-to-drawn figure")
    p.add_argument("--only", choices=("live", "draw"), help="run one of the two parts")
    args = p.parse_args(argv)
    hosts_n, live_points, seconds, runs = (50, 3600, args.seconds, args.runs)
    if args.quick:
        live_points, seconds, runs = 600, 10.0, 1
    from playwright.sync_api import sync_playwright

    header("Page", args)
    with workdir("page", args.keep) as tmp, kafka(tmp) as broker, sync_playwright() as pw:
        browser = chromium(pw)
        bootstrap = broker.bootstrap_servers
        hosts = host_names(hosts_n)

        live: dict[str, dict[str, Any]] = {}
        drawn: dict[str, list[dict[str, Any]]] = {}
        window = "1h" if live_points > 900 else "15m"

        # --- 1. live: 50 series × 3,600 points ----------------------------------------------------
        if args.only != "draw":
            topic = new_topic(broker, prefix="page-live")
            now = int(time.time() * 1000)
            sent, secs = prefill(bootstrap, topic, hosts, ["cpu.percent"], live_points, now - live_points * 1000, 1000)
            say(f"prefilled {sent:,} messages in {secs:.1f} s")
            fleet = LiveFleet(bootstrap, topic, hosts, ["cpu.percent"], rate=1.0).start()
            dash = Dashboard(tmp, bootstrap, topic, "--history-seconds", str(max(900, live_points)),
                             "--max-points", str(live_points + 600), name="dash-live")
            try:
                dash.wait_up()
                wait_for(lambda: dash.healthz()["backfill_progress"] >= 1, 120, "the backfill")
                for renderer in ("chartjs", "plotly"):
                    say(f"live {renderer}: {hosts_n} series × {live_points} points for {seconds:.0f} s")
                    live[renderer] = live_run(browser, f"{dash.url}?window={window}&renderer={renderer}", hosts_n,
                                              live_points - 30, seconds)
            finally:
                dash.stop()
                fleet.stop()

        # --- 2. navigation → fully drawn, 15 min × 50 hosts -----------------------------------------
        if args.only != "live":
            for n_metrics in (1, 20):
                metrics = metric_names(n_metrics)
                topic = new_topic(broker, prefix="page-draw")
                now = int(time.time() * 1000)
                prefill(bootstrap, topic, hosts, metrics, 900, now - 900_000, 1000)
                fleet = LiveFleet(bootstrap, topic, hosts, metrics, rate=1.0).start()
                dash = Dashboard(tmp, bootstrap, topic, name=f"dash-draw-{n_metrics}")
                try:
                    dash.wait_up()
                    wait_for(lambda dash=dash: dash.healthz()["backfill_progress"] >= 1, 120, "the backfill")
                    key = f"{hosts_n} hosts × {n_metrics} metric{'s' if n_metrics > 1 else ''}"
                    drawn[key] = []
                    for i in range(runs):
                        got = time_to_drawn(dash.url, hosts_n * n_metrics, 880)
                        say(f"  {key} run {i + 1}: first paint {got['firstPaintAt']:.0f} ms, "
                            f"raw drawn at {got['drawnAt']:.0f} ms ({got['series']} series, "
                            f"{got['points']:,} points; snapshot {got['snapshotAt']:.0f} ms, "
                            f"{got['snapshotsAsked']} snapshot(s) asked again, {got['resumes']} resume(s); "
                            f"load {os.getloadavg()[0]:.1f})")
                        drawn[key].append(got)
                finally:
                    dash.stop()
                    fleet.stop()
        browser.close()

    if live:
        print_live(live, hosts_n, live_points, window, seconds)
    if drawn:
        print_drawn(drawn, runs)
    return 0


def print_live(live: dict[str, dict[str, Any]], hosts_n: int, live_points: int, window: str, seconds: float) -> None:
    c, pl = live["chartjs"], live["plotly"]
    print(f"### Live: {hosts_n} series × {live_points:,} points (window {window}), {seconds:.0f} s, 1 Hz per host\n")
    rows = []
    for name, r in (("Chart.js", c), ("Plotly (fallback)", pl)):
        rows.append([name, f"{r['busy']:.1f} %", f"{r['script']:.1f} %", f"{r['draw']:.1f} %", f"{r['layout']:.1f} %",
                     f"{r['heap_mb']:.0f} MiB", f"{r['draws_per_s']:.1f}", r["points"],
                     "—" if r["lag_ms"] is None else f"{r['lag_ms']:.0f}", r["gaps"]])
    rows.append(["Chart.js / Plotly", f"{c['busy'] / max(pl['busy'], 1e-9):.2f}",
                 f"{c['script'] / max(pl['script'], 1e-9):.2f}", "", "",
                 f"{c['heap_mb'] / max(pl['heap_mb'], 1e-9):.2f}",
                 "", "", "", ""])
    print(table(["renderer", "main thread busy", "script", "in draw()", "layout+style", "JS heap", "draws/s",
                 "points held", "lag ms (median)", "resyncs"], rows))
    print(f"\nTarget: < 15 % of a core busy. Chart.js busy {c['busy']:.1f} % "
          f"({'met' if c['busy'] < 15 else 'NOT met'}).\n")


def first_snapshot_at(r: dict[str, Any]) -> float:
    fetched = [t for t, what in r["timeline"]["events"] if what == "snapshot fetched"]
    return float(fetched[0]) if fetched else float(r["timeline"]["firstFrame"] or 0)


def print_drawn(drawn: dict[str, list[dict[str, Any]]], runs: int) -> None:
    print(f"### Navigation → fully drawn, 15 min window, {runs} fresh browser{'s' if runs > 1 else ''} each\n")
    rows = []
    for key, results in drawn.items():
        rows.append([key, f"{results[0]['points']:,}", f"{median([r['dcl'] for r in results]):.0f}",
                     f"{median([r['connectAt'] for r in results]):.0f}",
                     f"{median([first_snapshot_at(r) for r in results]):.0f}",
                     f"{median([r['firstPaintAt'] for r in results]):.0f}",
                     f"{max(r['firstPaintAt'] for r in results):.0f}",
                     f"{median([r['snapshotAt'] for r in results]):.0f}",
                     f"{median([r['drawnAt'] for r in results]):.0f}", f"{max(r['drawnAt'] for r in results):.0f}",
                     sum(r["snapshotsAsked"] for r in results),
                     f"{min(r['load'] for r in results):.1f}-{max(r['load'] for r in results):.1f}"])
    print(table(["view", "points", "DOMContentLoaded", "Dash layout up", "first snapshot in",
                 "first paint (median)", "worst", "raw snapshot applied", "raw drawn (median)", "worst",
                 "snapshots asked", "load average"], rows))
    print("\nms since navigation start; the socket opens once Dash's layout is up (the WebSocket component);")
    print("the first snapshot is fetched over HTTP before that (<prefix>snapshot) — 'first snapshot in' is")
    print("when it arrived, or when the socket brought it if the fetch was late.")
    print("First paint: the end of the first complete draw of every series over the whole window — 10 s")
    print("buckets (mean lines) when the raw window holds > 200k points, else the raw points.")
    print("Raw drawn: every series holds its raw window and it is drawn.")
    print("\nTarget: < 1 s.")


if __name__ == "__main__":
    raise SystemExit(main())
