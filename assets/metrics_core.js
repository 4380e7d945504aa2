/* DOM-free logic of the live page: frame sequencing, per-series buffers, end-to-end lag, redraw and
 * decimation policy. Loaded by Dash from assets/ in the browser (window.dash_clientside.metrics.core)
 * and by `node --test` through require() (tests/js/). Nothing here touches the DOM, Chart.js or Plotly.
 * Presentation (units, colours, URL state, texts) lives in metrics_view.js.
 */
(function (root, factory) {
  'use strict';
  const core = factory();
  if (typeof module === 'object' && module.exports) {
    module.exports = core;
  } else {
    root.dash_clientside = root.dash_clientside || {};
    root.dash_clientside.metrics = Object.assign(root.dash_clientside.metrics || {}, { core: core });
    if (root.dash_clientside.metrics._boot) root.dash_clientside.metrics._boot(); // dashboard.js: start early
  }
}(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  const SEP = '\u001f'; // cannot appear in a sensible host or metric name, unlike '|' or ':'

  function seriesKey(host, metric) {
    return host + SEP + metric;
  }

  function splitKey(key) {
    const i = key.indexOf(SEP);
    return { host: key.slice(0, i), metric: key.slice(i + 1) };
  }

  /** The metric's family, the part before the first dot ("cpu.percent" → "cpu"). */
  function familyOf(metric) {
    const i = metric.indexOf('.');
    return i > 0 ? metric.slice(0, i) : metric;
  }

  /**
   * The unit, from the name's suffix (docs/metrics.md naming rules); '' when the name says none.
   * Rates of operations (reads, writes, ops) are 'ops/s'; other per-second counts are '/s'.
   */
  function unitOf(metric) {
    if (/(^|[._])percent$/.test(metric)) return '%';
    if (/(^|[._])(bytes_per_s|bps)$/.test(metric)) return 'B/s';
    if (/(^|[._])bytes$/.test(metric)) return 'B';
    if (/(^|[._])(reads|writes|ops|iops)_per_s$/.test(metric)) return 'ops/s';
    if (/(^|[._])per_s$/.test(metric)) return '/s';
    if (/(^|[._])seconds$/.test(metric)) return 's';
    return '';
  }

  /** Per-instance metrics have a middle part naming the instance: cpu.core3.percent, disk.sda.reads_per_s. */
  function perInstance(metric) {
    const first = metric.indexOf('.');
    return first > 0 && metric.lastIndexOf('.') > first;
  }

  /**
   * The chart a metric is drawn in: one per family and unit, so % and bytes never share an axis, and
   * per-instance metrics (cores, devices, interfaces) apart from the totals, which they would swamp.
   */
  function groupOf(metric) {
    const unit = unitOf(metric);
    const base = unit ? familyOf(metric) + ' · ' + unit : familyOf(metric);
    return perInstance(metric) ? base + ' · each' : base;
  }

  /**
   * Decides what to do with each frame (docs/protocol.md). A snapshot always applies. A data frame
   * applies when it follows what we have: its `prev` (the previous frame sent to our subscription)
   * is not newer than our last seq. Otherwise a frame was skipped (the WebSocket component drops a
   * message that arrives before the callback saw the previous one): we ask to `resume` from our last
   * seq, answered with a small catchup of exactly the missing ticks (a snapshot only when the relay no
   * longer has them), and ignore data until it comes. A snapshot is asked for (`resync`) only when our
   * buffers cannot be trusted: a `gap` frame, a refused catchup, or a new subscription.
   */
  class Sequencer {
    constructor(retryAfter) {
      this.retryAfter = retryAfter || 20; // frames ignored while waiting for a snapshot before asking again
      this.resumeRetryAfter = 3; // … for a catchup (cheap to ask again)
      this.last = null;
      this.epoch = null;
      this.gaps = 0;
      this.awaiting = true;
      this.ignoredWhileAwaiting = 0;
      this.afterHello = false;
    }

    /**
     * Wait for a snapshot or catchup. `mode`:
     * - 'hello': we just sent `ready` or `resume` on a new socket. The relay sends nothing before it
     *   answers those, so a data frame seen while waiting means the answer was lost: ask again at
     *   once rather than after `retryAfter` frames.
     * - 'snapshot': we sent `subscribe` or `resync`; the buffers are not a base to resume from, so
     *   forget our position (frames sent before the relay read us may still arrive: the count decides).
     * - otherwise: we sent `resume` mid-connection; our position stays.
     */
    reset(mode) {
      this.awaiting = true;
      this.ignoredWhileAwaiting = 0;
      this.afterHello = mode === 'hello';
      if (mode === 'snapshot') {
        this.last = null;
        this.epoch = null;
      }
    }

    canResume() {
      return this.epoch !== null && this.last !== null;
    }

    /** @returns {'apply'|'ignore'|'resync'|'resume'|'gap'} */
    accept(frame) {
      if (frame.type === 'snapshot') {
        this.last = frame.seq;
        this.epoch = frame.epoch === undefined ? null : frame.epoch;
        this.awaiting = false;
        this.ignoredWhileAwaiting = 0;
        this.afterHello = false;
        return 'apply';
      }
      if (frame.type === 'catchup') {
        if (frame.epoch === this.epoch && frame.from === this.last) {
          this.last = frame.seq;
          this.awaiting = false;
          this.ignoredWhileAwaiting = 0;
          this.afterHello = false;
          return 'apply';
        }
        this.awaiting = true;
        return 'resync';
      }
      if (frame.type === 'gap') {
        // The server dropped our backlog: it sent the latest points; a snapshot makes us whole.
        this.gaps += 1;
        this.awaiting = true;
        this.ignoredWhileAwaiting = 0;
        this.afterHello = false;
        return 'gap';
      }
      if (frame.type !== 'data') return 'ignore';
      if (this.awaiting) {
        this.ignoredWhileAwaiting += 1;
        const limit = this.canResume() ? this.resumeRetryAfter : this.retryAfter;
        if (this.afterHello || this.ignoredWhileAwaiting >= limit) {
          this.afterHello = false; // the next answer may be preceded by frames in flight
          this.ignoredWhileAwaiting = 0;
          return this.canResume() ? 'resume' : 'resync'; // the answer itself was lost: ask again
        }
        return 'ignore';
      }
      if (frame.seq <= this.last) return 'ignore';
      const prev = frame.prev === undefined ? frame.seq - 1 : frame.prev;
      if (prev <= this.last) {
        this.last = frame.seq;
        return 'apply';
      }
      this.gaps += 1;
      this.awaiting = true;
      this.ignoredWhileAwaiting = 0;
      return 'resume';
    }
  }

  /**
   * Points of one series, ascending by time, bounded by count and by age. A point not newer than the
   * newest is dropped: each sample is kept (and drawn) exactly once.
   *
   * Long windows come from the relay's downsampled tiers: points then carry `min` and `max` beside
   * the mean `y`, and `res` is the bucket width. Live samples arriving after such a snapshot are raw;
   * once a bucket is complete its raw samples are folded into one point (mean, min, max) placed at
   * the bucket's first sample, so a 24 h window stays ~1,440 points however long the page stays open.
   */
  class SeriesBuffer {
    constructor(maxPoints, maxAgeMs) {
      this.maxPoints = maxPoints;
      this.maxAgeMs = maxAgeMs;
      this.points = []; // [{x, y}] — the shape Chart.js takes with parsing: false
      this.duplicates = 0;
      this.res = 0; // bucket width of tier data in ms; 0 = raw samples
      this.runStart = -1; // index of the first raw point of the bucket being filled (tier mode)
      this.runLo = Infinity; // ... and the min and max of its samples so far: `lo`/`hi` of each point,
      this.runHi = -Infinity; // what a renderer draws the min–max band with (buckets: their min/max)
      this.folded = 0; // raw points folded into buckets (renderers that copy points must rebuild)
      this.epoch = 0; // +1 whenever points change other than by appending at the end or trimming the front
    }

    get lastX() {
      return this.points.length ? this.points[this.points.length - 1].x : -Infinity;
    }

    /** Appends what is new; returns the accepted points in order. `mins`/`maxs` go with tier data. */
    append(ts, ys, mins, maxs) {
      const added = [];
      let last = this.lastX;
      for (let i = 0; i < ts.length; i++) {
        if (ts[i] <= last) {
          this.duplicates += 1;
          continue;
        }
        const p = mins && maxs
          ? { x: ts[i], y: ys[i], min: mins[i], max: maxs[i], lo: mins[i], hi: maxs[i] }
          : { x: ts[i], y: ys[i] };
        if (this.res && !mins) {
          this._foldBefore(p.x);
          // the band of the bucket being filled: the running min–max of its samples so far
          if (p.y < this.runLo) this.runLo = p.y;
          if (p.y > this.runHi) this.runHi = p.y;
          p.lo = this.runLo;
          p.hi = this.runHi;
        }
        this.points.push(p);
        added.push(p);
        last = ts[i];
      }
      this.trim();
      return added;
    }

    /** Tier mode: a raw point in a later bucket closes the bucket being filled. */
    _foldBefore(x) {
      const pts = this.points;
      if (this.runStart < 0 || this.runStart >= pts.length) {
        this.runStart = pts.length;
        this.runLo = Infinity;
        this.runHi = -Infinity;
        return;
      }
      const first = pts[this.runStart];
      if (Math.floor(x / this.res) === Math.floor(first.x / this.res)) return;
      const n = pts.length - this.runStart;
      if (n > 1 || first.min === undefined) {
        let sum = 0;
        let lo = Infinity;
        let hi = -Infinity;
        for (let i = this.runStart; i < pts.length; i++) {
          sum += pts[i].y;
          if (pts[i].y < lo) lo = pts[i].y;
          if (pts[i].y > hi) hi = pts[i].y;
        }
        const bucket = { x: first.x, y: sum / n, min: lo, max: hi, lo: lo, hi: hi };
        pts.splice(this.runStart, n, bucket);
        this.folded += n - 1;
        this.epoch += 1;
      }
      this.runStart = pts.length;
      this.runLo = Infinity;
      this.runHi = -Infinity;
    }

    /** Drops points beyond the count bound and older than maxAgeMs before `nowMs` (default: newest). */
    trim(nowMs) {
      let drop = Math.max(0, this.points.length - this.maxPoints);
      if (this.maxAgeMs && this.points.length) {
        const cutoff = (nowMs === undefined ? this.lastX : nowMs) - this.maxAgeMs;
        while (drop < this.points.length && this.points[drop].x < cutoff) drop += 1;
      }
      if (drop > 0) {
        this.points.splice(0, drop);
        if (this.runStart >= 0) this.runStart = Math.max(0, this.runStart - drop);
      }
      return drop;
    }

    clear() {
      // splice, not length = 0: Chart.js observes the array's mutator methods to keep its metadata
      this.points.splice(0, this.points.length);
      this.res = 0;
      this.runStart = -1;
      this.runLo = Infinity;
      this.runHi = -Infinity;
      this.epoch += 1;
    }
  }

  /**
   * Everything the page knows: one buffer per series. apply(frame) returns what changed, for the
   * renderers: series seen for the first time and the points appended to each series.
   */
  class Model {
    constructor(opts) {
      opts = opts || {};
      this.maxPoints = opts.maxPoints || 7200;
      this.maxAgeMs = opts.maxAgeMs || 15 * 60 * 1000;
      this.series = new Map(); // key -> {key, host, metric, group, unit, label, buffer}
      this.sequencer = new Sequencer(opts.retryAfter);
      this.status = null;
      this.frames = 0;
    }

    _ensure(host, metric, created) {
      const key = seriesKey(host, metric);
      let s = this.series.get(key);
      if (!s) {
        s = {
          key: key,
          host: host,
          metric: metric,
          family: familyOf(metric),
          group: groupOf(metric),
          perInstance: perInstance(metric),
          unit: unitOf(metric),
          label: host + ' · ' + metric,
          buffer: new SeriesBuffer(this.maxPoints, this.maxAgeMs),
        };
        this.series.set(key, s);
        created.push(s);
      }
      return s;
    }

    /** The window the page shows: buffers keep this much history (by age, relative to now). */
    setWindow(ms) {
      this.maxAgeMs = ms;
      for (const s of this.series.values()) s.buffer.maxAgeMs = ms;
    }

    /**
     * @returns {{action: 'apply'|'ignore'|'resync'|'resume', reset: boolean, created: object[],
     *            appended: Map<string, object[]>, folded: Set<string>}}
     */
    apply(frame) {
      const action = this.sequencer.accept(frame);
      const out = { action: action, reset: false, created: [], appended: new Map(), folded: new Set() };
      if (frame.status) this.status = frame.status;
      if (action === 'gap') out.action = 'resync'; // draw the latest points now, then resync
      else if (action !== 'apply') return out;
      this.frames += 1;
      if (frame.type === 'snapshot') {
        out.reset = true;
        for (const s of this.series.values()) s.buffer.clear();
      }
      for (const entry of frame.series || []) {
        const s = this._ensure(String(entry.host), String(entry.metric), out.created);
        const b = s.buffer;
        const tier = out.reset && entry.res > 0 && Array.isArray(entry.min) && Array.isArray(entry.max);
        if (out.reset) b.res = entry.res > 0 ? entry.res : 0;
        const folded = b.folded;
        const added = b.append(entry.ts || [], entry.y || [], tier ? entry.min : null, tier ? entry.max : null);
        if (b.folded !== folded) out.folded.add(s.key);
        if (added.length || out.reset) out.appended.set(s.key, added);
      }
      return out;
    }

    /** Age-trims every buffer against `nowMs`; returns the keys that lost points. */
    trim(nowMs) {
      const changed = [];
      for (const s of this.series.values()) {
        if (s.buffer.trim(nowMs) > 0) changed.push(s.key);
      }
      return changed;
    }

    pointCount() {
      let n = 0;
      for (const s of this.series.values()) n += s.buffer.points.length;
      return n;
    }

    /** Hosts with at least one point in the window, sorted. */
    hosts() {
      const out = new Set();
      for (const s of this.series.values()) if (s.buffer.points.length) out.add(s.host);
      return Array.from(out).sort();
    }
  }

  /**
   * Which hosts went silent, by arrival time on this page's clock (like the relay, which judges by its
   * own clock, so a producer with a wrong clock is not called stale). Evidence of life is a live point
   * arriving, or the relay's status not listing the host as stale; the status's ages seed hosts the
   * page has not seen live. This keeps working when the relay's status comes rarely (it rides on
   * heartbeats, which a busy topic never needs).
   */
  class Freshness {
    constructor(staleAfterS) {
      this.staleAfterS = staleAfterS || 10;
      this.arrival = new Map(); // host -> ms on the page's clock
    }

    seen(host, nowMs) {
      this.arrival.set(host, nowMs);
    }

    /** A relay status: hosts it lists as stale get their age; the others were alive recently. */
    status(status, hosts, nowMs) {
      if (!status) return;
      if (status.stale_after > 0) this.staleAfterS = status.stale_after;
      const stale = status.stale || {};
      for (const host of hosts) {
        if (Object.prototype.hasOwnProperty.call(stale, host)) {
          this.arrival.set(host, Math.min(this.arrival.has(host) ? this.arrival.get(host) : Infinity,
            nowMs - stale[host] * 1000));
        } else if (!this.arrival.has(host) || nowMs - this.arrival.get(host) >= this.staleAfterS * 1000) {
          this.arrival.set(host, nowMs);
        }
      }
    }

    /** Seconds since the host's last sign of life when that is at least staleAfter, else null. */
    age(host, nowMs) {
      if (!this.arrival.has(host)) return null;
      const s = (nowMs - this.arrival.get(host)) / 1000;
      return s >= this.staleAfterS ? Math.round(s) : null;
    }
  }

  /** The newest sample time in a frame's series, or null. */
  function newestTs(frame) {
    let newest = null;
    for (const entry of frame.series || []) {
      const ts = entry.ts;
      if (ts && ts.length && (newest === null || ts[ts.length - 1] > newest)) newest = ts[ts.length - 1];
    }
    return newest;
  }

  /**
   * End-to-end lag: arrival time minus the newest sample time of each live data frame (producer
   * sample → Kafka → relay → page), as a rolling median over the last `windowMs`, so one late batch
   * (a producer's backlog after an outage) shows but does not stick.
   */
  class LagMeter {
    constructor(windowMs, maxSamples) {
      this.windowMs = windowMs || 10000;
      this.maxSamples = maxSamples || 200;
      this.samples = []; // [{at, lag}]
    }

    observe(frame, nowMs) {
      if (frame.type !== 'data') return; // snapshots and catchups carry history, not news
      const newest = newestTs(frame);
      if (newest === null) return;
      this.samples.push({ at: nowMs, lag: Math.max(0, nowMs - newest) });
      if (this.samples.length > this.maxSamples) this.samples.shift();
    }

    /** Median lag in ms over the window ending at `nowMs`, or null without recent samples. */
    median(nowMs) {
      const cutoff = nowMs - this.windowMs;
      while (this.samples.length && this.samples[0].at < cutoff) this.samples.shift();
      if (!this.samples.length) return null;
      const lags = this.samples.map(function (s) { return s.lag; }).sort(function (a, b) { return a - b; });
      const mid = lags.length >> 1;
      return lags.length % 2 ? lags[mid] : (lags[mid - 1] + lags[mid]) / 2;
    }
  }

  function decodeFrame(text) {
    const frame = JSON.parse(text);
    if (!frame || typeof frame !== 'object' || typeof frame.type !== 'string') {
      throw new Error('frame without a type');
    }
    if ((frame.type === 'data' || frame.type === 'snapshot') && !Number.isInteger(frame.seq)) {
      throw new Error('frame without a seq');
    }
    if (frame.series !== undefined && !Array.isArray(frame.series)) throw new Error('series is not a list');
    return frame;
  }

  /** True when a snapshot holds buckets (a tier: entries with `res`), not raw samples. */
  function isTierSnapshot(frame) {
    return Array.isArray(frame.series) && frame.series.some(function (e) { return e && e.res > 0; });
  }

  /** Dash's requests_pathname_prefix as a path with a leading and a trailing slash. */
  function prefixPath(prefix) {
    let p = prefix || '/';
    if (p.charAt(0) !== '/') p = '/' + p;
    if (p.charAt(p.length - 1) !== '/') p += '/';
    return p;
  }

  /** ws(s)://<this page's host><Dash's requests_pathname_prefix>ws — never a hard-coded host. */
  function wsUrl(loc, prefix) {
    return (loc.protocol === 'https:' ? 'wss:' : 'ws:') + '//' + loc.host + prefixPath(prefix) + 'ws';
  }

  /** The relay's HTTP snapshot of `sub` (docs/protocol.md): same origin, under Dash's prefix. */
  function snapshotUrl(prefix, sub) {
    return prefixPath(prefix) + 'snapshot?sub=' + encodeURIComponent(JSON.stringify(sub));
  }

  /** Exponential backoff with full jitter below the cap; random is injectable for tests. */
  function backoffMs(attempt, opts) {
    opts = opts || {};
    const base = opts.base || 500;
    const cap = opts.cap || 10000;
    const random = opts.random || Math.random;
    const ceiling = Math.min(cap, base * Math.pow(2, Math.max(0, attempt)));
    return Math.round(ceiling / 2 + random() * ceiling / 2);
  }

  /**
   * Plotly's extendTraces payload [{x, y[, text]}, indices, maxPoints] for the appended points of
   * series that already have a trace. `maxPoints` is a number or a function key → bound (so a trace
   * keeps exactly what its buffer keeps); `text(key, point)` adds hover text when given.
   */
  function extendPayload(appended, traceIndex, maxPoints, text) {
    const xs = [];
    const ys = [];
    const ts = [];
    const idx = [];
    const bounds = [];
    for (const [key, pts] of appended) {
      const i = traceIndex.get(key);
      if (i === undefined || !pts.length) continue;
      xs.push(pts.map(function (p) { return p.x; }));
      ys.push(pts.map(function (p) { return p.y; }));
      if (text) ts.push(pts.map(function (p) { return text(key, p); }));
      idx.push(i);
      bounds.push(typeof maxPoints === 'function' ? maxPoints(key) : maxPoints);
    }
    if (!idx.length) return null;
    const update = text ? { x: xs, y: ys, text: ts } : { x: xs, y: ys };
    return [update, idx, typeof maxPoints === 'function' ? bounds : maxPoints];
  }

  /**
   * Badge text and class: socket state first, then silence (no frame, not even the 1 s heartbeat),
   * then the relay's Kafka state and backfill. `opts.silentMs`: time since the last frame.
   */
  function connectionLabel(socketOpen, status, reconnectInS, opts) {
    opts = opts || {};
    if (!socketOpen) {
      return reconnectInS > 0
        ? { state: 'reconnecting', text: 'reconnecting in ' + reconnectInS + ' s', cls: 'badge badge-reconnecting' }
        : { state: 'connecting', text: 'connecting', cls: 'badge badge-connecting' };
    }
    if (opts.silentMs !== undefined && opts.silentMs > (opts.silentAfterMs || 5000)) {
      return { state: 'stale', text: 'stale: no update for ' + Math.round(opts.silentMs / 1000) + ' s',
        cls: 'badge badge-stale' };
    }
    const kafkaState = status ? status.kafka : null;
    if (kafkaState === 'connected' && status.backfill !== undefined && status.backfill < 1) {
      return { state: 'backfilling', text: 'backfilling ' + Math.floor(status.backfill * 100) + ' %',
        cls: 'badge badge-connecting' };
    }
    if (kafkaState === 'connected') return { state: 'live', text: 'live', cls: 'badge badge-live' };
    if (kafkaState === 'disconnected') {
      return { state: 'stale', text: 'stale: Kafka unreachable', cls: 'badge badge-stale' };
    }
    return { state: 'connecting', text: 'connecting to Kafka', cls: 'badge badge-connecting' };
  }

  /** The server-side part of the subscription, from the page URL: ?metrics=cpu.*&interval=1 */
  function subscriptionFromQuery(search) {
    const q = new URLSearchParams(search || '');
    const list = function (name) {
      const v = q.get(name);
      return v ? v.split(',').map(function (x) { return x.trim(); }).filter(Boolean) : [];
    };
    const sub = {};
    if (list('metrics').length) sub.metrics = list('metrics');
    const interval = parseFloat(q.get('interval'));
    if (isFinite(interval) && interval > 0) sub.interval = interval;
    return sub;
  }

  /** Seconds a host has been silent (relay clock), or null when it is fresh. */
  function staleAge(status, host) {
    if (!status || !status.stale || !Object.prototype.hasOwnProperty.call(status.stale, host)) return null;
    return status.stale[host];
  }

  /**
   * How often a chart of `windowMs` drawn `widthPx` wide needs redrawing: never more than once per
   * animation frame, and no more than once per pixel of time (a 15 min window 900 px wide moves one
   * pixel a second), capped at 1 s so fresh points never wait longer than that.
   */
  function redrawIntervalMs(windowMs, widthPx) {
    const perPixel = windowMs / Math.max(1, widthPx);
    return Math.min(1000, Math.max(0, Math.floor(perPixel)));
  }

  /**
   * The frame interval (s) a page asks the relay for: a quarter of its redraw interval, so a point
   * waits at most that much longer to be drawn, and at most 0.25 s. A 1 h window redraws once a
   * second: 4 frames a second instead of 20 spare the page (each frame goes through Dash's props)
   * and the relay; windows up to ~5 min keep the relay's own pace (0 = no ask).
   */
  function frameIntervalS(windowMs, widthPx) {
    const s = Math.min(0.25, redrawIntervalMs(windowMs, widthPx) / 4000);
    return s > 0.05 ? Math.round(s * 1000) / 1000 : 0;
  }

  /**
   * The Plotly fallback's axis step: every second for a 1 min window, up to every 5 s (0.1 % of an
   * hour). The range (ending at now) moves with each extendData redraw; a relayout of its own only
   * when no payload came for this long, and an expensive view's payloads are spaced up to this much.
   */
  function axisMoveMs(windowMs) {
    return Math.max(1000, Math.min(5000, windowMs / 120));
  }

  /**
   * Chart.js decimation for `points` per series in a plot `widthPx` wide: off while the line has at
   * most one point per pixel; otherwise LTTB down to one point per pixel. Measured in headless
   * Chromium (bench/bench_page.py): per-pixel LTTB draws 50 × 3,600 points in ~1/6 of the time of the
   * undecimated line or of min-max (which keeps up to 4 points per pixel, all of them stroked), and
   * LTTB keeps the spikes that matter (a spike makes the biggest triangle). Bucketed data (long
   * windows) shows its extremes in the min–max band instead.
   */
  function decimationFor(points, widthPx) {
    const width = Math.max(50, Math.floor(widthPx));
    if (points <= width) return { enabled: false };
    return { enabled: true, algorithm: 'lttb', samples: width, threshold: width };
  }

  return {
    seriesKey: seriesKey,
    splitKey: splitKey,
    familyOf: familyOf,
    unitOf: unitOf,
    perInstance: perInstance,
    groupOf: groupOf,
    Sequencer: Sequencer,
    SeriesBuffer: SeriesBuffer,
    Model: Model,
    LagMeter: LagMeter,
    Freshness: Freshness,
    newestTs: newestTs,
    decodeFrame: decodeFrame,
    isTierSnapshot: isTierSnapshot,
    wsUrl: wsUrl,
    snapshotUrl: snapshotUrl,
    backoffMs: backoffMs,
    extendPayload: extendPayload,
    connectionLabel: connectionLabel,
    subscriptionFromQuery: subscriptionFromQuery,
    staleAge: staleAge,
    redrawIntervalMs: redrawIntervalMs,
    frameIntervalS: frameIntervalS,
    decimationFor: decimationFor,
    axisMoveMs: axisMoveMs,
  };
}));
