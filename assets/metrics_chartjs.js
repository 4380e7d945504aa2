/* Chart.js renderer of the live page (window.dash_clientside.metrics.chartjs).
 *
 * One chart per metric family and unit, in sections (CPU, Memory, …), each built once and reused:
 * `parsing: false`, `animation: false`, decimation chosen from the window and the plot width, and
 * `update('none')` at most once per animation frame, only for charts whose data changed, never while
 * paused or in a hidden tab (no animation frames there). A dataset has its own array of the buffer's
 * point objects, brought up to date at draw time (usually appends and front trims): Chart.js listens to
 * a dataset array's push/splice, and would react to points it is not drawing yet, or to a removed one.
 *
 * The legend is HTML (buttons with aria-pressed, one tab stop, arrow keys inside) so it works from a
 * keyboard and with screen readers. Host and metric names are set with textContent only.
 */
(function () {
  'use strict';
  window.dash_clientside = window.dash_clientside || {};
  const ns = (window.dash_clientside.metrics = window.dash_clientside.metrics || {});

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /** Inserts `node` into `parent` keeping children sorted by their dataset.order. */
  function insertSorted(parent, node) {
    for (const child of parent.children) {
      if (child !== node && child.dataset.order > node.dataset.order) {
        parent.insertBefore(node, child);
        return;
      }
    }
    parent.appendChild(node);
  }

  function create(app) {
    const core = ns.core;
    const view = ns.view;
    const root = document.getElementById('chartjs-root');
    const charts = new Map(); // group -> entry
    const sections = new Map(); // section id -> {el, grid}
    const shown = new Map(); // series key -> entry it is drawn in
    const dirty = new Set();
    let raf = 0;
    let timer = 0;
    let lastDraw = 0;
    let thaw = false; // a user action while paused: draw what the model holds now, once

    function sectionEl(family) {
      const sec = view.sectionOf(family);
      let entry = sections.get(sec.id);
      if (entry) return entry;
      const wrap = el('section', 'metric-section');
      wrap.dataset.section = sec.id;
      wrap.dataset.order = String(sec.order).padStart(3, '0') + sec.id;
      const heading = el('h2', 'section-title', sec.title);
      heading.id = 'section-' + sec.id;
      wrap.setAttribute('aria-labelledby', heading.id);
      const grid = el('div', 'chart-grid');
      wrap.appendChild(heading);
      wrap.appendChild(grid);
      insertSorted(root, wrap);
      entry = { el: wrap, grid: grid };
      sections.set(sec.id, entry);
      return entry;
    }

    function themeColours() {
      return view.THEMES[app.theme] || view.THEMES.light;
    }

    function chartFor(s) {
      let entry = charts.get(s.group);
      if (entry) return entry;
      const sec = sectionEl(s.family);
      const title = view.chartTitle(s.family, s.unit, s.perInstance);
      const card = el('article', 'chart-card');
      card.dataset.group = s.group;
      card.dataset.order = view.chartOrder(s.family, s.unit, s.perInstance);
      const heading = el('h3', 'chart-title', title);
      const box = el('div', 'chart-box');
      const canvas = document.createElement('canvas');
      canvas.setAttribute('role', 'img');
      canvas.setAttribute('aria-label', 'Line chart: ' + title + ' over the selected window');
      box.appendChild(canvas);
      const legend = el('div', 'legend');
      legend.setAttribute('role', 'group');
      legend.setAttribute('aria-label', 'Series in ' + title + ' (press to show or hide)');
      legend.addEventListener('keydown', onLegendKey);
      card.appendChild(heading);
      card.appendChild(box);
      card.appendChild(legend);
      insertSorted(sec.grid, card);
      entry = { group: s.group, unit: s.unit, card: card, canvas: canvas, legend: legend, chart: null,
        datasets: [], items: new Map(), legendDirty: true, decimation: '' };
      charts.set(s.group, entry);
      return entry;
    }

    /**
     * The Chart.js chart of a card, made at its first draw rather than with the card: by then every
     * card of the snapshot is in the grid, so the chart measures its final size. Made with the card, a
     * chart measured the grid while it held fewer cards (wider columns), drew, and drew everything
     * again when its ResizeObserver saw the real width (~1 s more for 1,000 series). It is made with
     * its datasets, x range and decimation, and the constructor's own update is its first draw (made
     * empty and updated after, every new chart was laid out twice: ~10 ms a chart).
     */
    function makeChart(entry, xMin, xMax, decimation) {
      const unit = entry.unit;
      const t = themeColours();
      entry.chart = new window.Chart(entry.canvas, {
        type: 'line',
        data: { datasets: entry.datasets },
        options: {
          animation: false,
          parsing: false,
          normalized: true,
          responsive: true,
          maintainAspectRatio: false,
          spanGaps: true,
          interaction: { mode: 'nearest', axis: 'x', intersect: false },
          // 1 px lines: Skia strokes them with its hairline rasteriser, ~2.5× cheaper than 1.5 px
          // without a GPU (bench/bench_page.py); a 2 px dash pattern marks stale series instead.
          elements: { point: { radius: 0, hitRadius: 4 }, line: { borderWidth: 1, tension: 0 } },
          scales: {
            x: {
              type: 'time',
              min: xMin,
              max: xMax,
              time: { tooltipFormat: 'HH:mm:ss', displayFormats: { second: 'HH:mm:ss', minute: 'HH:mm', hour: 'HH:mm' } },
              ticks: { maxRotation: 0, autoSkipPadding: 16, color: t.muted },
              grid: { color: t.grid },
              border: { color: t.grid },
            },
            y: {
              beginAtZero: true,
              suggestedMax: unit === '%' ? 100 : undefined,
              ticks: { color: t.muted, callback: function (v) { return view.formatValue(v, unit); } },
              afterBuildTicks: function (scale) {
                const ticks = view.niceTicks(scale.min, scale.max, unit, 6);
                if (!ticks) return;
                scale.ticks = ticks.map(function (v) { return { value: v }; });
                scale.min = ticks[0];
                scale.max = ticks[ticks.length - 1];
              },
              grid: { color: t.grid },
              border: { color: t.grid },
            },
          },
          plugins: {
            // Off, not just hidden: the legend is HTML, and a hidden Chart.js legend still builds its
            // labels for every dataset at each update (~7 % of a 200-dataset chart's first draw).
            legend: false,
            colors: false, // every dataset has its colour (metrics_view.colourFor)
            title: false,
            subtitle: false,
            tooltip: {
              filter: function (item) { return !item.dataset.band; },
              callbacks: {
                label: function (ctx) {
                  const series = app.model.series.get(ctx.dataset.seriesKey);
                  const raw = ctx.raw || {};
                  let text = ctx.dataset.label + ': ' + view.formatValue(raw.y, unit);
                  if (raw.min !== undefined) {
                    text += ' (mean; min ' + view.formatValue(raw.min, unit) + ', max ' + view.formatValue(raw.max, unit) + ')';
                  }
                  if (series && series.staleAge !== null && series.staleAge !== undefined) {
                    text += ' — ' + view.staleText(series.staleAge);
                  }
                  return text;
                },
              },
            },
            decimation: Object.assign({ enabled: false, algorithm: 'lttb' }, decimation),
          },
        },
      });
    }

    function colourOf(s) {
      if (s.staleAge !== null && s.staleAge !== undefined) return view.staleColour(app.theme);
      return view.colourFor(s.key, app.theme);
    }

    function styleDataset(ds, s) {
      const c = colourOf(s);
      if (ds.band) {
        ds.backgroundColor = view.withAlpha(c, app.theme === 'dark' ? 0.22 : 0.16);
        ds.borderColor = 'rgba(0, 0, 0, 0)';
        return;
      }
      ds.borderColor = c;
      ds.backgroundColor = c;
      ds.borderDash = s.staleAge !== null && s.staleAge !== undefined ? [4, 4] : [];
    }

    /**
     * Bucketed series (long windows) get a min–max band under their mean line: two datasets on the
     * same points, reading `hi` and `lo` (dataset-level parsing), the first filled to the second. A
     * bucket's are its min and max; a live raw sample's are the running min and max of its bucket
     * (metrics_core.js SeriesBuffer), so the band follows live samples and, when the bucket folds,
     * is what it was at its last sample.
     */
    function bandDatasets(s) {
      const common = { seriesKey: s.key, band: true, pointRadius: 0, borderWidth: 0, order: 1, spanGaps: true,
        hidden: app.hidden.has(s.key), data: s.buffer.points.slice(), epoch: s.buffer.epoch };
      const hi = Object.assign({ label: s.label + ' (max)', parsing: { xAxisKey: 'x', yAxisKey: 'hi' }, fill: '+1' }, common);
      const lo = Object.assign({ label: s.label + ' (min)', parsing: { xAxisKey: 'x', yAxisKey: 'lo' }, fill: false }, common);
      styleDataset(hi, s);
      styleDataset(lo, s);
      return [hi, lo];
    }

    /** Adds or drops the band of a shown series to match its buffer (tier data or raw). */
    function syncBand(entry, s) {
      const list = entry.datasets;
      const has = list.some(function (d) { return d.band && d.seriesKey === s.key; });
      // Not on the quick first paint (app.preview): 2,000 filled band datasets of 1,000 series took
      // Chart.js 1.3 s where the mean lines alone take a fraction; the raw window replaces it soon.
      const wants = s.buffer.res > 0 && !app.preview;
      if (wants === has) return;
      if (wants) Array.prototype.push.apply(list, bandDatasets(s));
      else removeWhere(entry, function (d) { return d.band && d.seriesKey === s.key; });
      dirty.add(entry);
    }

    function removeWhere(entry, pred) {
      const list = entry.datasets;
      for (let i = list.length - 1; i >= 0; i--) if (pred(list[i])) list.splice(i, 1);
    }

    function shouldShow(s) {
      return s.buffer.points.length > 0 && view.hostSelected(app.selection, s.host);
    }

    function arrayOf(ds) {
      return ds._data !== undefined ? ds._data : ds.data; // _data: decimation keeps the original there
    }

    /**
     * Brings a dataset's own array up to its buffer: drop what left the front, push what is new at
     * the end; a full copy when the buffer changed otherwise (snapshot, folded bucket). Only at draw
     * time, so what is drawn is what the dataset holds, and pausing freezes it.
     */
    function syncData(ds, s) {
      const src = s.buffer.points;
      if (ds.epoch !== s.buffer.epoch || !arrayOf(ds)) {
        ds.data = src.slice();
        ds.epoch = s.buffer.epoch;
        return;
      }
      const dst = arrayOf(ds);
      const first = src.length ? src[0].x : Infinity;
      let drop = 0;
      while (drop < dst.length && dst[drop].x < first) drop += 1;
      if (drop) dst.splice(0, drop);
      const lastX = dst.length ? dst[dst.length - 1].x : -Infinity;
      let i = src.length;
      while (i > 0 && src[i - 1].x > lastX) i -= 1;
      for (let j = i; j < src.length; j += 4096) {
        Array.prototype.push.apply(dst, src.slice(j, Math.min(src.length, j + 4096)));
      }
    }

    function addDataset(s) {
      const entry = chartFor(s);
      const ds = { label: s.label, data: s.buffer.points.slice(), epoch: s.buffer.epoch, seriesKey: s.key,
        hidden: app.hidden.has(s.key), pointRadius: 0, order: 0 };
      styleDataset(ds, s);
      entry.datasets.push(ds);
      shown.set(s.key, entry);
      syncBand(entry, s);
      entry.legendDirty = true;
      dirty.add(entry);
    }

    function removeDataset(key) {
      const entry = shown.get(key);
      if (!entry) return;
      removeWhere(entry, function (d) { return d.seriesKey === key; });
      shown.delete(key);
      entry.legendDirty = true;
      dirty.add(entry);
    }

    /** Datasets follow the model and the host selection: add what should show, drop the rest. */
    function reconcile(keys) {
      const iter = keys || app.model.series.keys();
      for (const key of iter) {
        const s = app.model.series.get(key);
        if (!s) continue;
        const want = shouldShow(s);
        if (want && !shown.has(key)) addDataset(s);
        else if (!want && shown.has(key)) removeDataset(key);
        else if (want) dirty.add(shown.get(key));
      }
    }

    // ------------------------------------------------------------ legend -----------------------
    function legendLabel(s) {
      const stale = s.staleAge !== null && s.staleAge !== undefined;
      return stale ? view.staleText(s.staleAge) : '';
    }

    function renderLegend(entry) {
      entry.legendDirty = false;
      const keys = entry.datasets.filter(function (d) { return !d.band; })
        .map(function (d) { return d.seriesKey; });
      const wanted = new Set(keys);
      for (const [key, item] of entry.items) {
        if (!wanted.has(key)) {
          item.remove();
          entry.items.delete(key);
        }
      }
      let focusable = null;
      keys.forEach(function (key, i) {
        const s = app.model.series.get(key);
        let item = entry.items.get(key);
        if (!item) {
          item = el('button', 'legend-item');
          item.type = 'button';
          item.seriesKey = key;
          const sw = el('span', 'swatch');
          sw.setAttribute('aria-hidden', 'true');
          item.appendChild(sw);
          item.appendChild(el('span', 'legend-label', s.label));
          item.appendChild(el('span', 'legend-age', ''));
          item.addEventListener('click', function () { toggle(key); });
          entry.items.set(key, item);
        }
        if (entry.legend.children[i] !== item) entry.legend.insertBefore(item, entry.legend.children[i] || null);
        styleLegendItem(item, s);
        if (item.tabIndex === 0) focusable = item;
      });
      if (!focusable && entry.legend.firstChild) entry.legend.firstChild.tabIndex = 0;
      entry.card.hidden = keys.length === 0;
    }

    function styleLegendItem(item, s) {
      const hidden = app.hidden.has(s.key);
      const age = legendLabel(s);
      item.setAttribute('aria-pressed', hidden ? 'false' : 'true');
      item.classList.toggle('is-hidden', hidden);
      item.classList.toggle('is-stale', age !== '');
      item.firstChild.style.background = colourOf(s);
      item.lastChild.textContent = age ? ' — ' + age : '';
      item.title = s.label + (age ? ' (' + age + ')' : '') + (hidden ? ' — hidden, press to show' : '');
      if (item.tabIndex !== 0) item.tabIndex = -1;
    }

    function onLegendKey(ev) {
      const keys = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1, Home: 'first', End: 'last' };
      if (!(ev.key in keys) || !ev.target.classList.contains('legend-item')) return;
      const items = Array.from(ev.currentTarget.children);
      const i = items.indexOf(ev.target);
      const step = keys[ev.key];
      const j = step === 'first' ? 0 : step === 'last' ? items.length - 1 : (i + step + items.length) % items.length;
      ev.preventDefault();
      items[i].tabIndex = -1;
      items[j].tabIndex = 0;
      items[j].focus();
    }

    function toggle(key) {
      if (app.hidden.has(key)) app.hidden.delete(key);
      else app.hidden.add(key);
      const entry = shown.get(key);
      if (!entry) return;
      const list = entry.datasets;
      for (let i = 0; i < list.length; i++) {
        if (list[i].seriesKey !== key) continue;
        list[i].hidden = app.hidden.has(key);
        if (entry.chart) entry.chart.setDatasetVisibility(i, !app.hidden.has(key));
      }
      const item = entry.items.get(key);
      if (item) styleLegendItem(item, app.model.series.get(key));
      // A user action: draw now even when paused (the data does not move, only the visibility).
      draw(true, [entry]);
    }

    // ------------------------------------------------------------ drawing ----------------------
    function plotWidth() {
      for (const entry of charts.values()) {
        if (!entry.card.hidden && entry.chart && entry.chart.chartArea) return entry.chart.chartArea.right - entry.chart.chartArea.left;
      }
      return 600;
    }

    /**
     * Browsers run no animation frames in a hidden tab, so no redraw happens there; the page does not
     * lean on that alone: nothing is scheduled while document.hidden, and dashboard.js kicks the
     * renderer on visibilitychange, which draws everything that arrived meanwhile in one go.
     */
    function schedule(soon) {
      if (!dirty.size || raf || app.paused || document.hidden || !app.isActive('chartjs')) return;
      if (timer) {
        if (!soon) return;
        window.clearTimeout(timer); // a snapshot or a user's change: not worth a live update's wait
        timer = 0;
      }
      // Live updates wait until the newest point has moved about a pixel (redrawIntervalMs); a reset
      // (snapshot, window, selection) is drawn at the next frame: the first paint used to wait up to
      // 0.7 s here behind an empty draw made while the page loaded.
      const wait = soon ? 0 : lastDraw + core.redrawIntervalMs(app.windowMs, plotWidth()) - performance.now();
      const go = function () {
        timer = 0;
        raf = window.requestAnimationFrame(function () {
          raf = 0;
          draw(false);
        });
      };
      if (wait > 0) timer = window.setTimeout(go, wait);
      else go();
    }

    /** Sets the chart's x range and decimation; makes (and so draws) a new chart: true then. */
    function configure(entry, now, width) {
      let most = 0;
      for (const ds of entry.datasets) {
        const s = app.model.series.get(ds.seriesKey);
        if (s && s.buffer.points.length > most) most = s.buffer.points.length;
      }
      const d = core.decimationFor(most, width);
      const sig = JSON.stringify(d);
      if (!entry.chart) {
        entry.decimation = sig;
        makeChart(entry, now - app.windowMs, now, d);
        return true;
      }
      const opts = entry.chart.options;
      opts.scales.x.min = now - app.windowMs;
      opts.scales.x.max = now;
      if (sig !== entry.decimation) {
        entry.decimation = sig;
        opts.plugins.decimation = Object.assign({ enabled: false, algorithm: 'lttb' }, d);
      }
      return false;
    }

    function inView(entry) {
      const r = entry.card.getBoundingClientRect();
      return r.bottom > 0 && r.top < (window.innerHeight || document.documentElement.clientHeight);
    }

    /**
     * Redraws dirty charts (or `only`); `force` draws even while paused (user actions). Charts in
     * view go first; once a frame has spent OFFSCREEN_SLICE_MS, the rest wait for the next frames,
     * so the first paint of a big view (1,000 series: ~45 ms a chart the first time) is what the
     * user looks at, not the cards below the fold.
     */
    const OFFSCREEN_SLICE_MS = 30;

    function draw(force, only) {
      if ((app.paused || document.hidden) && !force) return; // stays dirty: drawn when visible again
      const t0 = performance.now();
      const now = Date.now();
      const width = plotWidth();
      let list = only || Array.from(dirty);
      let later = false;
      let drawn = 0;
      const slice = !only && !force && !app.paused && list.length > 1; // paused: schedule() would not go on
      if (slice) {
        const seen = list.filter(inView);
        list = seen.concat(list.filter(function (e) { return seen.indexOf(e) < 0; }));
      }
      for (const entry of list) {
        if (slice && performance.now() - t0 > OFFSCREEN_SLICE_MS && !inView(entry)) {
          later = true; // stays dirty: the next frame goes on
          break;
        }
        if (entry.legendDirty) renderLegend(entry);
        if (entry.card.hidden) {
          dirty.delete(entry);
          continue;
        }
        if (!app.paused || thaw) {
          for (const ds of entry.datasets) syncData(ds, app.model.series.get(ds.seriesKey));
        }
        if (!configure(entry, now, width)) entry.chart.update('none');
        app.stats.draws += 1;
        drawn += 1;
        dirty.delete(entry);
      }
      thaw = false;
      lastDraw = performance.now();
      app.stats.lastDrawAt = lastDraw;
      app.stats.drawMs = (app.stats.drawMs || 0) + (lastDraw - t0);
      if (lastDraw - t0 > 20 && app.mark) app.mark('drew ' + drawn + ' charts in ' + Math.round(lastDraw - t0) + ' ms');
      if (!dirty.size && !app.stats.fullDrawAt && app.stats.snapshotAt) app.stats.fullDrawAt = lastDraw;
      // the first paint of the page: every chart in view drawn after the first snapshot
      if (!app.stats.firstPaintAt && app.stats.snapshotAt && !Array.from(dirty).some(inView)) {
        app.stats.firstPaintAt = lastDraw;
      }
      if (dirty.size) schedule(later);
    }

    // ------------------------------------------------------------ renderer interface -----------
    return {
      name: 'chartjs',
      show: function () {}, // CSS shows #chartjs-root when body[data-renderer=chartjs]
      /** Everything again from the model: snapshot, window, selection or renderer change, resume. */
      reset: function () {
        for (const key of Array.from(shown.keys())) {
          if (!app.model.series.has(key)) removeDataset(key);
        }
        reconcile();
        for (const [key, entry] of shown) syncBand(entry, app.model.series.get(key));
        for (const entry of charts.values()) {
          for (let i = 0; i < entry.datasets.length; i++) {
            const ds = entry.datasets[i];
            const s = app.model.series.get(ds.seriesKey);
            styleDataset(ds, s);
            ds.hidden = app.hidden.has(s.key);
          }
          entry.legendDirty = true;
          dirty.add(entry);
        }
        if (app.paused) {
          thaw = true; // a user action while paused: show its result, frozen again
          draw(true);
        } else {
          schedule(true);
        }
      },
      /** Paused: datasets keep what they hold (draws stop syncing them); buffers go on filling. */
      pause: function () {
        if (raf) window.cancelAnimationFrame(raf);
        if (timer) window.clearTimeout(timer);
        raf = 0;
        timer = 0;
      },
      /** One applied frame: new series, appended points. */
      update: function (result) {
        if (result.reset) {
          this.reset();
          return;
        }
        const keys = new Set();
        for (const s of result.created) keys.add(s.key);
        for (const key of result.appended.keys()) keys.add(key);
        reconcile(keys);
        schedule();
      },
      /** Points left the window (age trim): charts move, emptied series disappear. */
      trimmed: function (keys) {
        reconcile(keys);
        schedule();
      },
      /** Staleness changed for these series: grey or restore them. */
      restyle: function (keys) {
        for (const key of keys) {
          const entry = shown.get(key);
          const s = app.model.series.get(key);
          if (!entry || !s) continue;
          for (const ds of entry.datasets) if (ds.seriesKey === key) styleDataset(ds, s);
          const item = entry.items.get(key);
          if (item) styleLegendItem(item, s);
          dirty.add(entry);
        }
        schedule();
      },
      /** Legend ages tick every second without a redraw of the canvas. */
      refreshLegends: function () {
        for (const [key, entry] of shown) {
          const item = entry.items.get(key);
          if (item) styleLegendItem(item, app.model.series.get(key));
        }
      },
      setTheme: function () {
        const t = themeColours();
        for (const entry of charts.values()) {
          if (!entry.chart) continue; // made later, with the theme of then
          const sc = entry.chart.options.scales;
          for (const axis of [sc.x, sc.y]) {
            axis.ticks.color = t.muted;
            axis.grid.color = t.grid;
            axis.border.color = t.grid;
          }
        }
        this.reset();
      },
      resume: function () {
        this.reset();
      },
      kick: schedule,
      /** Nothing waits to be drawn (for benchmarks: "fully drawn"). */
      idle: function () {
        return dirty.size === 0 && !raf && !timer;
      },
      /** For tests: what each chart has drawn (elements, not the shared arrays). */
      inspect: function () {
        const out = [];
        for (const entry of charts.values()) {
          entry.datasets.forEach(function (ds, i) {
            if (ds.band) return;
            const c = entry.chart;
            out.push({ group: entry.group, label: ds.label, drawn: c ? c.getDatasetMeta(i).data.length : 0,
              hidden: c ? !c.isDatasetVisible(i) : !!ds.hidden, colour: ds.borderColor });
          });
        }
        return out;
      },
      charts: charts,
    };
  }

  ns.chartjs = { create: create };
}());
