/* Browser glue of the live page: Dash clientside callbacks (namespace window.dash_clientside.metrics)
 * that feed WebSocket frames into the DOM-free model (metrics_core.js) and draw them with Chart.js,
 * or with the Plotly dcc.Graph fallback through its extendData prop.
 *
 * Host and metric names come from Kafka, i.e. from anyone who can write to the topic: they only ever
 * reach the page as textContent or as Chart.js/Plotly data labels, never as HTML.
 */
(function () {
  'use strict';
  window.dash_clientside = window.dash_clientside || {};
  const ns = (window.dash_clientside.metrics = window.dash_clientside.metrics || {});

  const OPEN = 1;
  const CLOSED = 3;
  const MAX_POINTS = 3600;

  const state = {
    model: null,
    renderer: null, // 'chartjs' | 'plotly'
    wsBase: null,
    attempt: 0,
    socketOpen: false,
    reconnectAt: 0,
    countdown: null,
    nonce: 0,
    badFrames: 0,
    charts: new Map(), // group -> {chart, card}
    dirty: new Set(),
    rafPending: false,
    plotly: { traceIndex: new Map(), pending: new Map(), inFlight: null, resetPending: false },
  };

  function core() {
    return ns.core;
  }

  function model() {
    if (!state.model) state.model = new (core().Model)({ maxPoints: MAX_POINTS });
    return state.model;
  }

  function noUpdate() {
    return window.dash_clientside.no_update;
  }

  function chooseRenderer() {
    const wanted = new URLSearchParams(window.location.search).get('renderer');
    // Plotly is the fallback: asked for, or Chart.js failed to load.
    state.renderer = wanted === 'plotly' || typeof window.Chart === 'undefined' ? 'plotly' : 'chartjs';
    const graph = document.getElementById('plotly-graph');
    const root = document.getElementById('chartjs-root');
    if (graph) graph.style.display = state.renderer === 'plotly' ? '' : 'none';
    if (root) root.style.display = state.renderer === 'chartjs' ? '' : 'none';
    document.body.dataset.renderer = state.renderer;
  }

  function send(type, extra) {
    state.nonce += 1; // the component only sends a value that differs from the previous one
    return JSON.stringify(Object.assign({ type: type, n: state.nonce }, extra || {}));
  }

  /** On every (re)connect: resume from what we have, or start fresh; with the URL's subscription. */
  function hello() {
    const sub = core().subscriptionFromQuery(window.location.search);
    const q = model().sequencer;
    const message = q.canResume()
      ? send('resume', Object.assign({ epoch: q.epoch, seq: q.last }, sub))
      : send('ready', sub);
    q.reset();
    return message;
  }

  const STALE_COLOUR = 'rgba(120, 124, 130, 0.55)';

  /** Grey the series of hosts the relay has not heard from for a while; restore them when back. */
  function applyStale() {
    const st = model().status;
    for (const s of model().series.values()) {
      const age = core().staleAge(st, s.host);
      if ((age === null) === (s.staleAge === null || s.staleAge === undefined)) {
        s.staleAge = age;
        continue;
      }
      s.staleAge = age;
      const entry = state.charts.get(s.group);
      if (!entry) continue;
      for (const ds of entry.chart.data.datasets) {
        if (ds.seriesKey !== s.key) continue;
        ds.borderColor = age === null ? s.colour : STALE_COLOUR;
        ds.backgroundColor = ds.borderColor;
        ds.borderDash = age === null ? [] : [4, 4];
        state.dirty.add(entry.chart);
      }
    }
  }

  // ---------------------------------------------------------------- reconnect ----------------
  function scheduleReconnect() {
    if (state.countdown) return;
    const delay = core().backoffMs(state.attempt);
    state.attempt += 1;
    state.reconnectAt = Date.now() + delay;
    const tick = function () {
      const left = state.reconnectAt - Date.now();
      if (left <= 0) {
        clearInterval(state.countdown);
        state.countdown = null;
        // A new URL makes dash_extensions.WebSocket open a new socket; it never reconnects by itself.
        window.dash_clientside.set_props('ws', { url: state.wsBase + '?attempt=' + state.attempt });
        return;
      }
      const label = core().connectionLabel(false, null, Math.ceil(left / 1000));
      window.dash_clientside.set_props('conn-state', { children: label.text, className: label.cls });
    };
    state.countdown = setInterval(tick, 250);
  }

  // ---------------------------------------------------------------- Chart.js -----------------
  function chartFor(group, unit) {
    let entry = state.charts.get(group);
    if (entry) return entry;
    const root = document.getElementById('chartjs-root');
    const card = document.createElement('section');
    card.className = 'chart-card';
    card.dataset.group = group;
    const title = document.createElement('h2');
    title.textContent = group;
    const box = document.createElement('div');
    box.className = 'chart-box';
    const canvas = document.createElement('canvas');
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', 'chart of ' + group + ' metrics');
    box.appendChild(canvas);
    card.appendChild(title);
    card.appendChild(box);
    root.appendChild(card);
    const chart = new window.Chart(canvas, {
      type: 'line',
      data: { datasets: [] },
      options: {
        animation: false,
        parsing: false,
        normalized: true,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: 'nearest', axis: 'x', intersect: false },
        elements: { point: { radius: 0 }, line: { borderWidth: 1.5 } },
        scales: {
          x: { type: 'time', time: { tooltipFormat: 'HH:mm:ss' }, ticks: { maxRotation: 0 } },
          y: {
            beginAtZero: true,
            ticks: { callback: function (v) { return core().formatValue(v, unit); } },
          },
        },
        plugins: {
          legend: { position: 'bottom' },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                const s = model().series.get(ctx.dataset.seriesKey);
                const stale = s && s.staleAge !== null && s.staleAge !== undefined
                  ? ' (stale: nothing for ' + Math.round(s.staleAge) + ' s)' : '';
                return ctx.dataset.label + ': ' + core().formatValue(ctx.parsed.y, unit) + stale;
              },
            },
          },
          decimation: { enabled: true, algorithm: 'lttb', samples: 600 },
        },
      },
    });
    entry = { chart: chart, card: card };
    state.charts.set(group, entry);
    return entry;
  }

  function drawChartjs(out) {
    for (const s of out.created) {
      const entry = chartFor(s.group, s.unit);
      // The dataset shares the buffer's array: appends and trims show up at the next update().
      entry.chart.data.datasets.push({
        label: s.label,
        data: s.buffer.points,
        borderColor: s.colour,
        backgroundColor: s.colour,
        seriesKey: s.key,
      });
      state.dirty.add(entry.chart);
    }
    for (const key of out.appended.keys()) {
      const s = model().series.get(key);
      state.dirty.add(chartFor(s.group, s.unit).chart);
    }
    scheduleDraw();
  }

  function scheduleDraw() {
    if (state.dirty.size && !state.rafPending) {
      state.rafPending = true;
      // At most one redraw per animation frame, none in a hidden tab (no frames there).
      window.requestAnimationFrame(function () {
        state.rafPending = false;
        for (const chart of state.dirty) chart.update('none');
        state.dirty.clear();
      });
    }
  }

  // ---------------------------------------------------------------- Plotly fallback ----------
  function plotlyDiv() {
    return document.querySelector('#plotly-graph .js-plotly-plot');
  }

  /* dcc.Graph queues extendData values and clears its queue only after Plotly.extendTraces has
   * resolved; a new extendData arriving before that clear re-applies the queued (already drawn) one,
   * which is the duplicate-point bug measured in the walking-skeleton issue. So at most one payload is
   * in flight: the next is emitted only when the graph shows the last point of the previous one. */
  function extendApplied(gd) {
    const f = state.plotly.inFlight;
    if (!f) return true;
    for (const [i, lastX] of f) {
      const xs = gd.data[i] && gd.data[i].x;
      if (!xs || xs[xs.length - 1] !== lastX) return false;
    }
    state.plotly.inFlight = null;
    return true;
  }

  function drawPlotly(out) {
    const p = state.plotly;
    if (out.reset) {
      p.pending.clear();
      p.resetPending = true;
    }
    for (const [key, pts] of out.appended) {
      if (!pts.length) continue;
      const list = p.pending.get(key);
      if (list) Array.prototype.push.apply(list, pts);
      else p.pending.set(key, pts.slice());
    }
    return flushPlotly();
  }

  function flushPlotly() {
    const p = state.plotly;
    const gd = plotlyDiv();
    if (!gd || !gd.data || !window.Plotly || !extendApplied(gd)) return noUpdate();
    if (p.resetPending) {
      // A snapshot replaces everything: rebuild the traces from the model, drop what was queued.
      p.resetPending = false;
      p.pending.clear();
      p.traceIndex.clear();
      if (gd.data.length) window.Plotly.deleteTraces(gd, gd.data.map(function (_, i) { return i; }));
      const traces = [];
      for (const s of model().series.values()) {
        p.traceIndex.set(s.key, traces.length);
        traces.push(traceOf(s, s.buffer.points));
      }
      if (traces.length) window.Plotly.addTraces(gd, traces);
      return noUpdate();
    }
    const fresh = [];
    for (const [key, pts] of p.pending) {
      if (p.traceIndex.has(key)) continue;
      const s = model().series.get(key);
      p.traceIndex.set(key, gd.data.length + fresh.length);
      fresh.push(traceOf(s, pts));
      p.pending.delete(key);
    }
    if (fresh.length) window.Plotly.addTraces(gd, fresh);
    const payload = core().extendPayload(p.pending, p.traceIndex, MAX_POINTS);
    p.pending.clear();
    if (!payload) return noUpdate();
    p.inFlight = new Map();
    payload[1].forEach(function (traceIdx, j) {
      const xs = payload[0].x[j];
      p.inFlight.set(traceIdx, xs[xs.length - 1]);
    });
    return payload;
  }

  function traceOf(s, pts) {
    return {
      type: 'scatter',
      mode: 'lines',
      name: s.label,
      line: { color: s.colour, width: 1.5 },
      x: pts.map(function (q) { return q.x; }),
      y: pts.map(function (q) { return q.y; }),
      hovertemplate: '%{y:.2f}<extra>%{fullData.name}</extra>',
    };
  }

  // ---------------------------------------------------------------- callbacks ----------------
  ns.connect = function (href) {
    if (state.wsBase) return noUpdate();
    const config = JSON.parse(document.getElementById('_dash-config').textContent);
    state.wsBase = core().wsUrl(window.location, config.requests_pathname_prefix);
    chooseRenderer();
    return state.wsBase;
  };

  ns.onMessage = function (message, wsState) {
    const triggered = (window.dash_clientside.callback_context.triggered || []).map(function (t) {
      return t.prop_id;
    });
    let out = noUpdate();
    let extend = noUpdate();

    if (triggered.indexOf('ws.state') >= 0 && wsState) {
      if (wsState.readyState === OPEN) {
        state.socketOpen = true;
        state.attempt = 0;
        out = hello(); // nothing is sent to us before this: frames during page load would be lost
      } else if (wsState.readyState === CLOSED && state.wsBase) {
        state.socketOpen = false;
        scheduleReconnect();
      }
    }

    if (triggered.indexOf('ws.message') >= 0 && message && typeof message.data === 'string') {
      let frame = null;
      try {
        frame = core().decodeFrame(message.data);
      } catch (err) {
        state.badFrames += 1;
        console.warn('metrics: bad frame ignored', err);
      }
      if (frame && frame.type === 'error') console.warn('metrics: server says', frame.error);
      if (frame) {
        const result = model().apply(frame);
        if (result.action === 'resync') out = send('resync');
        if (result.reset || result.created.length || result.appended.size) {
          if (model().series.size) document.getElementById('empty-state').style.display = 'none';
          if (state.renderer === 'plotly') extend = drawPlotly(result);
          else drawChartjs(result);
        } else if (state.renderer === 'plotly') {
          extend = flushPlotly(); // a payload held back while the previous one was in flight
        }
        if (frame.status && state.renderer === 'chartjs') {
          applyStale();
          scheduleDraw();
        }
      }
    }

    const st = model().status;
    const label = core().connectionLabel(state.socketOpen, st, 0);
    if (!state.socketOpen && state.countdown) return [out, extend, noUpdate(), noUpdate()];
    return [out, extend, label.text, label.cls];
  };

  /** For tests and for debugging from the console. */
  ns.debugState = function () {
    const m = model();
    return {
      renderer: state.renderer,
      socketOpen: state.socketOpen,
      seq: m.sequencer.last,
      gaps: m.sequencer.gaps,
      badFrames: state.badFrames,
      series: Array.from(m.series.values()).map(function (s) {
        return { host: s.host, metric: s.metric, points: s.buffer.points.length };
      }),
    };
  };
}());
