/* Plotly fallback renderer (window.dash_clientside.metrics.plotly): the dcc.Graph `plotly-graph`, one
 * subplot per metric family and unit, the same colours and names as Chart.js.
 *
 * Live points go through the graph's `extendData` prop with a per-trace maxPoints equal to what the
 * series buffer keeps. dcc.Graph queues extendData values and clears its queue only after
 * Plotly.extendTraces has resolved; a new extendData arriving before that clear re-applies the queued
 * (already drawn) one — the duplicate-point bug measured in the walking-skeleton issue. So at most ONE
 * payload is in flight: the next is emitted only when the graph shows the last point of the previous
 * one, and whole rebuilds (Plotly.react: snapshot, new series, theme, resume) wait for the same.
 *
 * Parity with Chart.js: bucketed series (long windows) get a min–max band (two traces filled one to
 * the other, in the series' legend group, so a legend click hides both), extended with the live
 * samples in the same payload as the line (over the bucket being filled it is the running min–max of
 * its samples, the buffer points' lo/hi); y ticks at round numbers of the unit (binary prefixes for bytes,
 * view.niceTicks / view.formatValue); the x axis spans the selected window and ends at now, like
 * Chart.js's (moved in the redraw of each payload; by a relayout of its own only when no payload came
 * for axisMoveMs); legend items are keyboard buttons (tab stop, arrows, Enter/Space, aria-pressed);
 * stale series are grey and dotted with their age in the hover text (hovertemplate restyles redraw
 * nothing: editType 'none').
 *
 * Plotly renders a subset of HTML in names and titles, so untrusted names pass through
 * view.plotlyText (entities), which makes Plotly show them as the literal text.
 */
(function () {
  'use strict';
  window.dash_clientside = window.dash_clientside || {};
  const ns = (window.dash_clientside.metrics = window.dash_clientside.metrics || {});

  const ROW_PX = 300;

  function create(app) {
    const core = ns.core;
    const view = ns.view;
    const container = document.getElementById('plotly-root');
    const p = {
      traceIndex: new Map(), // series key -> index of its (mean) line trace
      traceKeys: [], // trace index -> series key (band traces too)
      bandIndex: new Map(), // series key -> [max trace, min trace] of a bucketed series
      yBounds: new Map(), // group -> [bottom, top] of its axis: a point outside rebuilds the ticks
      rangeAt: 0, // when the x axes were last moved (ms, Date.now())
      legendFocus: null, // series key whose legend item has the tab stop
      templates: new Map(), // trace index -> hovertemplate last set (ages change every second)
      pending: new Map(), // key -> points not yet sent
      inFlight: null, // Map trace index -> last x of the payload in flight
      rebuild: true,
      listening: false,
      cost: 0, // ms the last full redraw took on the main thread
      sentAt: 0, // performance.now() when the payload in flight was handed to dcc.Graph
      lastFlush: 0,
      timer: 0,
    };

    // plotly.js is fetched only now: mount the dcc.Graph that layout.py describes in data-graph.
    if (!document.getElementById('plotly-graph')) {
      window.dash_clientside.set_props('plotly-root', { children: JSON.parse(container.dataset.graph) });
    }

    function graphDiv() {
      const gd = container && container.querySelector('.js-plotly-plot');
      return gd && gd.data && window.Plotly ? gd : null;
    }

    function extendApplied(gd) {
      const f = p.inFlight;
      if (!f) return true;
      for (const [i, lastX] of f) {
        const xs = gd.data[i] && gd.data[i].x;
        if (!xs || xs[xs.length - 1] !== lastX) return false;
      }
      p.inFlight = null;
      return true;
    }

    function stale(s) {
      return s.staleAge !== null && s.staleAge !== undefined;
    }

    function hoverText(s, pt) {
      let text = view.formatValue(pt.y, s.unit);
      if (pt.min !== undefined) {
        text += ' (mean; min ' + view.formatValue(pt.min, s.unit) + ', max ' + view.formatValue(pt.max, s.unit) + ')';
      }
      return text;
    }

    function shownSeries() {
      const list = [];
      for (const s of app.model.series.values()) {
        if (s.buffer.points.length && view.hostSelected(app.selection, s.host)) list.push(s);
      }
      list.sort(function (a, b) {
        const oa = view.chartOrder(a.family, a.unit, a.perInstance);
        const ob = view.chartOrder(b.family, b.unit, b.perInstance);
        if (oa !== ob) return oa < ob ? -1 : 1;
        if (a.group !== b.group) return a.group < b.group ? -1 : 1;
        return a.label < b.label ? -1 : a.label > b.label ? 1 : 0;
      });
      return list;
    }

    function traceName(s) {
      return view.plotlyText(s.label);
    }

    function hoverTemplate(s) {
      // '%' in a name would start a template field: Plotly reads %{…} only, so a lone % is safe
      return '%{x|%H:%M:%S} %{text}' + (stale(s) ? ' — ' + view.staleText(s.staleAge) : '') +
        '<extra>%{fullData.name}</extra>';
    }

    function colourOf(s) {
      return stale(s) ? view.staleColour(app.theme) : view.colourFor(s.key, app.theme);
    }

    function lineOf(s) {
      return { color: colourOf(s), width: 1, dash: stale(s) ? 'dot' : 'solid' };
    }

    /** The band's traces over `pts`: their hi and lo (metrics_core.js SeriesBuffer). */
    function bandOf(pts) {
      return { hi: pts.map(function (q) { return q.hi; }), lo: pts.map(function (q) { return q.lo; }) };
    }

    function moveEveryMs() {
      return core.axisMoveMs(app.windowMs);
    }

    /**
     * The x range: the selected window ending at now, as Chart.js draws it. It used to end
     * axisMoveMs ahead of now (so that points arriving before the next move were on the plot), which
     * left up to 5 s of empty plot on the right. Now the axes move with every payload instead: an
     * extendTraces redraws every subplot anyway, and moving the range in that redraw costs nothing more
     * (moveAxesWith). A relayout of its own (a redraw) moves them only when no payload came for
     * axisMoveMs (every host silent).
     */
    function xRange(now) {
      return [now - app.windowMs, now];
    }

    function xAxes(gd) {
      return Object.keys(gd.layout).filter(function (k) { return /^xaxis\d*$/.test(k); });
    }

    /**
     * The range for the redraw that the payload about to be sent causes: Plotly.extendTraces redraws
     * from gd.layout, so the new range set there is drawn by that same redraw, not by one more.
     */
    function moveAxesWith(gd, now) {
      const range = xRange(now);
      for (const ax of xAxes(gd)) gd.layout[ax].range = range.slice();
      p.rangeAt = now;
    }

    /** Round ticks of the unit over the group's values (from 0, like Chart.js's beginAtZero; % to 100). */
    function yAxisFor(unit, lo, hi) {
      const a = view.unitAxis(unit, lo, hi);
      return { range: a.range, autorange: false, tickmode: 'array', tickvals: a.ticks, ticktext: a.labels };
    }

    function rebuild(gd) {
      const t = view.THEMES[app.theme] || view.THEMES.light;
      const series = shownSeries();
      const groups = [];
      const groupIndex = new Map();
      for (const s of series) {
        if (!groupIndex.has(s.group)) {
          groupIndex.set(s.group, groups.length);
          groups.push(s);
        }
      }
      const columns = groups.length > 1 && container.clientWidth >= 900 ? 2 : 1;
      const rows = Math.max(1, Math.ceil(groups.length / columns));
      const layout = {
        paper_bgcolor: t.backgrounds[0],
        plot_bgcolor: t.backgrounds[0],
        font: { color: t.text },
        margin: { l: 64, r: 16, t: 28, b: 36 },
        showlegend: true,
        legend: { orientation: 'h', y: -0.02, yanchor: 'top', font: { color: t.text } },
        hovermode: 'closest',
        uirevision: 'keep',
        grid: { rows: rows, columns: columns, pattern: 'independent', roworder: 'top to bottom', ygap: 0.3 },
        annotations: [],
      };
      const bounds = new Map();
      for (const s of series) {
        const b = bounds.get(s.group) || [Infinity, -Infinity];
        for (const q of s.buffer.points) {
          const lo = q.min !== undefined ? q.min : q.y;
          const hi = q.max !== undefined ? q.max : q.y;
          if (lo < b[0]) b[0] = lo;
          if (hi > b[1]) b[1] = hi;
        }
        bounds.set(s.group, b);
      }
      const now = Date.now();
      const range = xRange(now);
      p.rangeAt = now;
      p.yBounds.clear();
      groups.forEach(function (g, k) {
        const n = k === 0 ? '' : String(k + 1);
        layout['xaxis' + n] = { type: 'date', gridcolor: t.grid, linecolor: t.grid, color: t.muted,
          range: range.slice(), autorange: false };
        const b = bounds.get(g.group);
        const y = yAxisFor(g.unit, b[0], b[1]);
        p.yBounds.set(g.group, y.range);
        layout['yaxis' + n] = Object.assign({ gridcolor: t.grid, linecolor: t.grid, color: t.muted }, y);
        layout.annotations.push({
          text: view.plotlyText(view.chartTitle(g.family, g.unit, g.perInstance)), showarrow: false,
          xref: 'x' + n + ' domain', yref: 'y' + n + ' domain', x: 0, y: 1, xanchor: 'left', yanchor: 'bottom',
          font: { size: 13, color: t.text },
        });
      });
      p.traceIndex.clear();
      p.bandIndex.clear();
      p.templates.clear();
      p.traceKeys = [];
      const traces = [];
      for (const s of series) {
        const n = groupIndex.get(s.group) === 0 ? '' : String(groupIndex.get(s.group) + 1);
        const pts = s.buffer.points;
        const xs = pts.map(function (q) { return q.x; });
        const visible = app.hidden.has(s.key) ? 'legendonly' : true;
        if (s.buffer.res > 0 && !app.preview) {
          // The min–max band under a bucketed series: max, then min filled up to it ('tonexty').
          // Not on the quick first paint of a big view (app.preview), like Chart.js: its buckets are
          // replaced by the raw window a moment later, and two filled traces a series cost the most.
          // Its values are the points' lo/hi (SeriesBuffer: a bucket's min and max, a live raw
          // sample's the running min–max of its bucket), as Chart.js draws it and as the payloads
          // that extend the band carry. `text: []`: extendTraces extends every key of the payload
          // on every trace it names, and a trace without the attribute is an error.
          const env = bandOf(pts);
          const band = { type: 'scatter', mode: 'lines', x: xs, xaxis: 'x' + n, yaxis: 'y' + n,
            line: { width: 0, color: colourOf(s) }, hoverinfo: 'skip', showlegend: false,
            legendgroup: s.key, visible: visible, text: [] };
          p.bandIndex.set(s.key, [traces.length, traces.length + 1]);
          traces.push(Object.assign({}, band, { name: traceName(s) + ' (max)', y: env.hi }));
          traces.push(Object.assign({}, band, { name: traceName(s) + ' (min)', fill: 'tonexty',
            fillcolor: view.withAlpha(colourOf(s), app.theme === 'dark' ? 0.22 : 0.16), y: env.lo }));
          p.traceKeys.push(s.key, s.key);
        }
        p.traceIndex.set(s.key, traces.length);
        p.traceKeys.push(s.key);
        p.templates.set(traces.length, hoverTemplate(s));
        traces.push({
          type: 'scatter',
          mode: 'lines',
          name: traceName(s),
          legendgroup: s.key,
          x: xs,
          y: pts.map(function (q) { return q.y; }),
          text: pts.map(function (q) { return hoverText(s, q); }),
          hovertemplate: hoverTemplate(s),
          xaxis: 'x' + n,
          yaxis: 'y' + n,
          line: lineOf(s),
          visible: visible,
        });
      }
      container.style.height = (rows * ROW_PX + 60 + Math.ceil(series.length / 4) * 18) + 'px';
      const started = performance.now();
      p.sentAt = 0;
      window.Plotly.react(gd, traces, layout, { displaylogo: false, responsive: true });
      p.cost = performance.now() - started;
      app.stats.lastDrawAt = performance.now();
      if (!app.stats.fullDrawAt && app.stats.snapshotAt) app.stats.fullDrawAt = app.stats.lastDrawAt;
      if (!p.listening) {
        p.listening = true;
        gd.on('plotly_restyle', onRestyle); // legend clicks: remember hidden series across rebuilds
        gd.on('plotly_afterplot', afterPlot);
        gd.addEventListener('keydown', onLegendKey);
      }
      decorateLegend();
      p.rebuild = false;
      p.pending.clear();
      app.stats.draws += 1;
    }

    /**
     * After every redraw: the legend may have been redrawn; and when it drew a payload, what the
     * payload cost the main thread, which spaces the next ones (schedule): dcc.Graph's render,
     * Plotly's redraw of every subplot, and the browser's style, layout and paint of the new SVG
     * (measured up to a task after the next frame; in the 50 × 3,600-point bench ~1/3 of the total).
     * The axes move in those redraws, so the relayout that used to measure the cost is gone.
     */
    function afterPlot() {
      if (p.sentAt) {
        const sent = p.sentAt;
        p.sentAt = 0;
        window.requestAnimationFrame(function () {
          window.setTimeout(function () {
            p.cost = Math.max(p.cost * 0.5, performance.now() - sent);
          }, 0);
        });
      }
      decorateLegend();
    }

    function onRestyle(ev) {
      const change = ev && ev[0];
      const indices = ev && ev[1];
      if (!change || !('visible' in change) || !indices) return;
      indices.forEach(function (i, j) {
        const key = p.traceKeys[i];
        const v = Array.isArray(change.visible) ? change.visible[j] : change.visible;
        if (key === undefined) return;
        if (v === 'legendonly' || v === false) app.hidden.add(key);
        else app.hidden.delete(key);
      });
    }

    // ------------------------------------------------------------ keyboard legend ------------
    /** Legend items in trace order (band traces have none): [{el, key}]. */
    function legendItems(gd) {
      const out = [];
      const nodes = gd.querySelectorAll('.legend g.traces');
      nodes.forEach(function (node) {
        const datum = node.__data__;
        const trace = datum && datum[0] && datum[0].trace;
        const key = trace ? p.traceKeys[trace.index] : undefined;
        if (key !== undefined) out.push({ el: node, key: key });
      });
      return out;
    }

    /**
     * Plotly's legend is SVG that only a mouse can use: each item becomes a button for keyboards
     * and screen readers (one tab stop, arrows and Home/End move, Enter/Space toggles, aria-pressed
     * says whether the series is shown, the label says its name and, when stale, its age).
     */
    function decorateLegend() {
      const gd = graphDiv();
      if (!gd) return;
      const box = gd.querySelector('.legend');
      if (box && !box.getAttribute('role')) {
        box.setAttribute('role', 'group');
        box.setAttribute('aria-label', 'Series (press to show or hide)');
      }
      const items = legendItems(gd);
      if (!items.some(function (it) { return it.key === p.legendFocus; })) p.legendFocus = items.length ? items[0].key : null;
      for (const it of items) {
        const s = app.model.series.get(it.key);
        if (!s) continue;
        const hidden = app.hidden.has(it.key);
        const label = s.label + (stale(s) ? ' (' + view.staleText(s.staleAge) + ')' : '');
        const want = { role: 'button', tabindex: it.key === p.legendFocus ? '0' : '-1',
          'aria-pressed': hidden ? 'false' : 'true', 'aria-label': label };
        for (const name in want) if (it.el.getAttribute(name) !== want[name]) it.el.setAttribute(name, want[name]);
        it.el.classList.add('legend-key');
      }
    }

    function setVisible(gd, key, show) {
      if (show) app.hidden.delete(key);
      else app.hidden.add(key);
      const idx = [p.traceIndex.get(key)].concat(p.bandIndex.get(key) || []).filter(function (i) { return i !== undefined; });
      if (idx.length) window.Plotly.restyle(gd, { visible: show ? true : 'legendonly' }, idx);
    }

    function onLegendKey(ev) {
      const gd = graphDiv();
      const node = ev.target && ev.target.closest ? ev.target.closest('.legend g.traces') : null;
      if (!gd || !node) return;
      const items = legendItems(gd);
      const i = items.findIndex(function (it) { return it.el === node; });
      if (i < 0) return;
      const moves = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1, Home: 'first', End: 'last' };
      if (ev.key === 'Enter' || ev.key === ' ') {
        ev.preventDefault();
        p.legendFocus = items[i].key;
        setVisible(gd, items[i].key, app.hidden.has(items[i].key));
        return;
      }
      if (!(ev.key in moves)) return;
      ev.preventDefault();
      const step = moves[ev.key];
      const j = step === 'first' ? 0 : step === 'last' ? items.length - 1 : (i + step + items.length) % items.length;
      p.legendFocus = items[j].key;
      decorateLegend();
      items[j].el.focus();
    }

    /**
     * Plotly redraws every subplot on each extendTraces, about what a full redraw costs (p.cost,
     * measured per payload). Payloads go no more often than Chart.js would redraw for this window;
     * an expensive view keeps its redraws to about a sixteenth of the main thread, waiting up to the
     * axis step (axisMoveMs: 1 s for 1 min, 5 s from 10 min) — the old pace of the range moves, and
     * about what it cost before the range moved with every payload (bench_page live: 50 series ×
     * 3,600 points, ~0.3 s a redraw: one payload per ~5 s); beyond that, a quarter of the thread.
     * A small view (a redraw of tens of ms) keeps the 1 s of Chart.js.
     */
    function schedule() {
      if (p.timer) return;
      const gap = Math.max(core.redrawIntervalMs(app.windowMs, container.clientWidth || 600),
        Math.min(moveEveryMs(), 16 * p.cost), 4 * p.cost);
      const wait = p.lastFlush + gap - performance.now();
      if (wait <= 0) {
        flush();
        return;
      }
      p.timer = window.setTimeout(function () {
        p.timer = 0;
        flush();
      }, wait);
    }

    /**
     * The extendData payload of the pending points: the line of each series and, for a bucketed one,
     * its band (max and min traces, the same x, the points' hi and lo), each trace bounded
     * by what its buffer keeps. Null when nothing is pending; sets p.rebuild when the pending points
     * are not the end of their buffer (a band cannot be extended from them then).
     */
    function livePayload() {
      const payload = core.extendPayload(p.pending, p.traceIndex, function (key) {
        return app.model.series.get(key).buffer.points.length;
      }, function (key, pt) {
        return hoverText(app.model.series.get(key), pt);
      });
      if (!payload) return null;
      for (const [key, pts] of p.pending) {
        const band = p.bandIndex.get(key);
        if (!band || !pts.length || !p.traceIndex.has(key)) continue;
        const b = app.model.series.get(key).buffer;
        const from = b.points.length - pts.length;
        if (from < 0 || b.points[from] !== pts[0] || b.points[b.points.length - 1] !== pts[pts.length - 1]) {
          p.rebuild = true;
          return null;
        }
        const env = bandOf(pts);
        const xs = pts.map(function (q) { return q.x; });
        payload[0].x.push(xs, xs.slice());
        payload[0].y.push(env.hi, env.lo);
        payload[0].text.push([], []);
        payload[1].push(band[0], band[1]);
        payload[2].push(b.points.length, b.points.length);
      }
      return payload;
    }

    function flush(force) {
      if ((app.paused && !force) || document.hidden || !app.isActive('plotly')) return;
      p.lastFlush = performance.now();
      const gd = graphDiv();
      if (!gd || !extendApplied(gd)) {
        if (!p.timer) {
          p.timer = window.setTimeout(function () { // the graph is loading, or drawing the last payload
            p.timer = 0;
            flush(force);
          }, 50);
        }
        return;
      }
      if (p.rebuild) {
        rebuild(gd);
        return;
      }
      const now = Date.now();
      const payload = livePayload();
      p.pending.clear();
      if (p.rebuild) {
        rebuild(gd);
        return;
      }
      if (!payload) {
        if (now - p.rangeAt >= moveEveryMs() && p.traceIndex.size) {
          const move = {};
          const range = xRange(now);
          for (const ax of xAxes(gd)) move[ax + '.range'] = range.slice();
          p.rangeAt = now;
          const started = performance.now();
          window.Plotly.relayout(gd, move);
          p.cost = Math.max(p.cost * 0.5, performance.now() - started);
        }
        return;
      }
      moveAxesWith(gd, now);
      p.inFlight = new Map();
      payload[1].forEach(function (traceIdx, j) {
        const xs = payload[0].x[j];
        p.inFlight.set(traceIdx, xs[xs.length - 1]);
      });
      p.sentAt = performance.now();
      window.dash_clientside.set_props('plotly-graph', { extendData: payload });
      app.stats.draws += 1;
    }

    return {
      name: 'plotly',
      show: function (visible) {
        if (visible) {
          const gd = graphDiv();
          if (gd) window.Plotly.Plots.resize(gd);
        }
      },
      /** Everything again from the model; drawn even while paused (it follows a user action). */
      reset: function () {
        p.rebuild = true;
        p.pending.clear();
        flush(true);
      },
      pause: function () {},
      update: function (result) {
        if (result.reset || result.folded.size) p.rebuild = true;
        for (const s of result.created) {
          if (s.buffer.points.length && view.hostSelected(app.selection, s.host)) p.rebuild = true;
        }
        if (!p.rebuild) {
          for (const [key, pts] of result.appended) {
            if (!pts.length || !view.hostSelected(app.selection, app.model.series.get(key).host)) continue;
            if (!p.traceIndex.has(key)) {
              p.rebuild = true; // a series that was empty has points again
              break;
            }
            const b = p.yBounds.get(app.model.series.get(key).group);
            for (const q of pts) {
              if (b && (q.y > b[1] || q.y < b[0])) p.rebuild = true; // new ticks for the new range
            }
            const list = p.pending.get(key);
            if (list) Array.prototype.push.apply(list, pts);
            else p.pending.set(key, pts.slice());
          }
        }
        if (p.rebuild) p.pending.clear();
        schedule();
      },
      trimmed: function (keys) {
        for (const key of keys) {
          const s = app.model.series.get(key);
          if (p.traceIndex.has(key) && s && !s.buffer.points.length) p.rebuild = true;
        }
        schedule();
      },
      restyle: function (keys) {
        const gd = graphDiv();
        if (document.hidden && gd) p.rebuild = true; // nothing is drawn in a hidden tab: rebuilt when shown
        if (!gd || p.rebuild || app.paused || !app.isActive('plotly')) return;
        const idx = [];
        const colours = [];
        const dashes = [];
        const templates = [];
        for (const key of keys) {
          const i = p.traceIndex.get(key);
          const s = app.model.series.get(key);
          if (i === undefined || !s) continue;
          const line = lineOf(s);
          idx.push(i);
          colours.push(line.color);
          dashes.push(line.dash);
          templates.push(hoverTemplate(s));
        }
        for (const key of keys) {
          const band = p.bandIndex.get(key);
          const s = app.model.series.get(key);
          if (!band || !s) continue;
          const c = colourOf(s);
          window.Plotly.restyle(gd, { 'line.color': c }, band);
          window.Plotly.restyle(gd, { fillcolor: view.withAlpha(c, app.theme === 'dark' ? 0.22 : 0.16) }, [band[1]]);
        }
        if (idx.length) {
          window.Plotly.restyle(gd, { 'line.color': colours, 'line.dash': dashes, hovertemplate: templates }, idx);
          idx.forEach(function (i, j) { p.templates.set(i, templates[j]); });
        }
      },
      /** Every second: stale ages in the hover texts (no redraw: editType 'none') and legend labels. */
      refreshLegends: function () {
        const gd = graphDiv();
        if (!gd || p.rebuild || document.hidden || !app.isActive('plotly')) return;
        const idx = [];
        const templates = [];
        for (const [key, i] of p.traceIndex) {
          const s = app.model.series.get(key);
          if (!s) continue;
          const t = hoverTemplate(s);
          if (p.templates.get(i) !== t) {
            idx.push(i);
            templates.push(t);
            p.templates.set(i, t);
          }
        }
        if (idx.length) window.Plotly.restyle(gd, { hovertemplate: templates }, idx);
        decorateLegend();
      },
      setTheme: function () {
        this.reset();
      },
      resume: function () {
        this.reset();
      },
      kick: schedule,
      idle: function () {
        return !p.rebuild && !p.pending.size && !p.inFlight && !p.timer;
      },
      /** For tests: trace names and point counts. */
      inspect: function () {
        const gd = graphDiv();
        return gd ? gd.data.map(function (t) { return { label: t.name, drawn: t.x.length }; }) : [];
      },
    };
  }

  ns.plotly = { create: create };
}());
