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
      traceIndex: new Map(), // series key -> trace index
      traceKeys: [], // trace index -> series key
      pending: new Map(), // key -> points not yet sent
      inFlight: null, // Map trace index -> last x of the payload in flight
      rebuild: true,
      listening: false,
      cost: 0, // ms the last full redraw took on the main thread
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
      return '%{x|%H:%M:%S} %{text}' + (stale(s) ? ' — stale' : '') + '<extra>%{fullData.name}</extra>';
    }

    function lineOf(s) {
      return { color: stale(s) ? view.staleColour(app.theme) : view.colourFor(s.key, app.theme), width: 1,
        dash: stale(s) ? 'dot' : 'solid' };
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
      groups.forEach(function (g, k) {
        const n = k === 0 ? '' : String(k + 1);
        layout['xaxis' + n] = { type: 'date', gridcolor: t.grid, linecolor: t.grid, color: t.muted };
        layout['yaxis' + n] = {
          rangemode: 'tozero', gridcolor: t.grid, linecolor: t.grid, color: t.muted,
          ticksuffix: g.unit === '%' ? ' %' : (g.unit ? ' ' + g.unit : ''),
          tickformat: g.unit === '%' ? '' : '~s',
        };
        layout.annotations.push({
          text: view.plotlyText(view.chartTitle(g.family, g.unit, g.perInstance)), showarrow: false,
          xref: 'x' + n + ' domain', yref: 'y' + n + ' domain', x: 0, y: 1, xanchor: 'left', yanchor: 'bottom',
          font: { size: 13, color: t.text },
        });
      });
      p.traceIndex.clear();
      p.traceKeys = [];
      const traces = series.map(function (s, i) {
        p.traceIndex.set(s.key, i);
        p.traceKeys.push(s.key);
        const n = groupIndex.get(s.group) === 0 ? '' : String(groupIndex.get(s.group) + 1);
        const pts = s.buffer.points;
        return {
          type: 'scatter',
          mode: 'lines',
          name: traceName(s),
          x: pts.map(function (q) { return q.x; }),
          y: pts.map(function (q) { return q.y; }),
          text: pts.map(function (q) { return hoverText(s, q); }),
          hovertemplate: hoverTemplate(s),
          xaxis: 'x' + n,
          yaxis: 'y' + n,
          line: lineOf(s),
          visible: app.hidden.has(s.key) ? 'legendonly' : true,
        };
      });
      container.style.height = (rows * ROW_PX + 60 + Math.ceil(series.length / 4) * 18) + 'px';
      const started = performance.now();
      window.Plotly.react(gd, traces, layout, { displaylogo: false, responsive: true });
      p.cost = performance.now() - started;
      app.stats.lastDrawAt = performance.now();
      if (!app.stats.fullDrawAt && app.stats.snapshotAt) app.stats.fullDrawAt = app.stats.lastDrawAt;
      if (!p.listening) {
        p.listening = true;
        gd.on('plotly_restyle', onRestyle); // legend clicks: remember hidden series across rebuilds
      }
      p.rebuild = false;
      p.pending.clear();
      app.stats.draws += 1;
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

    /**
     * Plotly redraws every subplot on each extendTraces, about what a full redraw costs: space the
     * payloads so that drawing takes at most a quarter of the main thread, and no more often than
     * Chart.js would redraw for this window.
     */
    function schedule() {
      if (p.timer) return;
      const gap = Math.max(core.redrawIntervalMs(app.windowMs, container.clientWidth || 600), 4 * p.cost);
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
      const payload = core.extendPayload(p.pending, p.traceIndex, function (key) {
        return app.model.series.get(key).buffer.points.length;
      }, function (key, pt) {
        return hoverText(app.model.series.get(key), pt);
      });
      p.pending.clear();
      if (!payload) return;
      p.inFlight = new Map();
      payload[1].forEach(function (traceIdx, j) {
        const xs = payload[0].x[j];
        p.inFlight.set(traceIdx, xs[xs.length - 1]);
      });
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
        if (idx.length) window.Plotly.restyle(gd, { 'line.color': colours, 'line.dash': dashes, hovertemplate: templates }, idx);
      },
      refreshLegends: function () {},
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
