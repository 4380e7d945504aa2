/* DOM-free logic of the live page: frame sequencing, per-series buffers, colours, URLs, backoff.
 * Loaded by Dash from assets/ in the browser (window.dash_clientside.metrics.core) and by
 * `node --test` through require() (tests/js/). Nothing here touches the DOM, Chart.js or Plotly.
 */
(function (root, factory) {
  'use strict';
  const core = factory();
  if (typeof module === 'object' && module.exports) {
    module.exports = core;
  } else {
    root.dash_clientside = root.dash_clientside || {};
    root.dash_clientside.metrics = Object.assign(root.dash_clientside.metrics || {}, { core: core });
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

  /** The unit, from the name's suffix (docs/metrics.md naming rules); '' when the name says none. */
  function unitOf(metric) {
    if (/(^|[._])percent$/.test(metric)) return '%';
    if (/(^|[._])(bytes_per_s|bps)$/.test(metric)) return 'B/s';
    if (/(^|[._])bytes$/.test(metric)) return 'B';
    if (/(^|[._])per_s$/.test(metric)) return '/s';
    if (/(^|[._])seconds$/.test(metric)) return 's';
    return '';
  }

  /** The chart a metric is drawn in: one per family and unit, so % and bytes never share an axis. */
  function groupOf(metric) {
    const unit = unitOf(metric);
    return unit ? familyOf(metric) + ' · ' + unit : familyOf(metric);
  }

  const BINARY = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi'];

  /** Axis and tooltip text: 12.3 %, 1.5 GiB, 3.2 MiB/s (binary prefixes for bytes). */
  function formatValue(value, unit) {
    if (typeof value !== 'number' || !isFinite(value)) return '';
    if (unit === 'B' || unit === 'B/s') {
      let v = Math.abs(value);
      let i = 0;
      while (v >= 1024 && i < BINARY.length - 1) {
        v /= 1024;
        i += 1;
      }
      const shown = (value < 0 ? -v : v).toFixed(v >= 100 || i === 0 ? 0 : 1);
      return shown + ' ' + BINARY[i] + unit;
    }
    const digits = Math.abs(value) >= 100 ? 0 : 1;
    return value.toFixed(digits) + (unit ? (unit === '%' ? ' %' : ' ' + unit) : '');
  }

  /** FNV-1a, 32 bit: small, fast, and the same in every browser, so every viewer sees the same colour. */
  function hash32(text) {
    let h = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h >>> 0;
  }

  /** A stable colour per series name, from its hash (hue spread by the golden angle). */
  function colourFor(name) {
    const h = hash32(name);
    const hue = Math.round((h % 360) * 137.508) % 360;
    const light = 38 + ((h >>> 9) % 3) * 8; // 38, 46 or 54 %: readable on a white background
    return 'hsl(' + hue + ', 70%, ' + light + '%)';
  }

  /**
   * Decides what to do with each frame (docs/protocol.md). A snapshot always applies. A data frame
   * applies when it follows what we have: its `prev` (the previous frame sent to our subscription)
   * is not newer than our last seq. Otherwise a frame was skipped (the WebSocket component drops
   * frames that come too fast), so we ask for a snapshot and ignore data until it comes. After a
   * reconnect we ask to resume: a catchup frame from our last seq applies, anything else waits.
   */
  class Sequencer {
    constructor(retryAfter) {
      this.retryAfter = retryAfter || 20; // frames ignored while waiting before asking again
      this.last = null;
      this.epoch = null;
      this.gaps = 0;
      this.awaiting = true;
      this.ignoredWhileAwaiting = 0;
    }

    /** A new socket: wait for a snapshot or catchup, but keep last/epoch so we can resume. */
    reset() {
      this.awaiting = true;
      this.ignoredWhileAwaiting = 0;
    }

    canResume() {
      return this.epoch !== null && this.last !== null;
    }

    /** @returns {'apply'|'ignore'|'resync'|'gap'} */
    accept(frame) {
      if (frame.type === 'snapshot') {
        this.last = frame.seq;
        this.epoch = frame.epoch === undefined ? null : frame.epoch;
        this.awaiting = false;
        this.ignoredWhileAwaiting = 0;
        return 'apply';
      }
      if (frame.type === 'catchup') {
        if (frame.epoch === this.epoch && frame.from === this.last) {
          this.last = frame.seq;
          this.awaiting = false;
          this.ignoredWhileAwaiting = 0;
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
        return 'gap';
      }
      if (frame.type !== 'data') return 'ignore';
      if (this.awaiting) {
        this.ignoredWhileAwaiting += 1;
        if (this.ignoredWhileAwaiting >= this.retryAfter) {
          this.ignoredWhileAwaiting = 0;
          return 'resync'; // the snapshot itself was lost: ask again
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
      return 'resync';
    }
  }

  /**
   * Points of one series, ascending by time, bounded by count and by age. A point not newer than the
   * newest is dropped: each sample is kept (and drawn) exactly once.
   */
  class SeriesBuffer {
    constructor(maxPoints, maxAgeMs) {
      this.maxPoints = maxPoints;
      this.maxAgeMs = maxAgeMs;
      this.points = []; // [{x, y}] — the shape Chart.js takes with parsing: false
      this.duplicates = 0;
    }

    get lastX() {
      return this.points.length ? this.points[this.points.length - 1].x : -Infinity;
    }

    /** Appends what is new; returns the accepted points in order. */
    append(ts, ys) {
      const added = [];
      let last = this.lastX;
      for (let i = 0; i < ts.length; i++) {
        if (ts[i] <= last) {
          this.duplicates += 1;
          continue;
        }
        const p = { x: ts[i], y: ys[i] };
        this.points.push(p);
        added.push(p);
        last = ts[i];
      }
      this.trim();
      return added;
    }

    trim(nowMs) {
      let drop = Math.max(0, this.points.length - this.maxPoints);
      if (this.maxAgeMs && this.points.length) {
        const cutoff = (nowMs === undefined ? this.lastX : nowMs) - this.maxAgeMs;
        while (drop < this.points.length && this.points[drop].x < cutoff) drop += 1;
      }
      if (drop > 0) this.points.splice(0, drop);
      return drop;
    }

    clear() {
      // splice, not length = 0: Chart.js observes the array's mutator methods to keep its metadata
      this.points.splice(0, this.points.length);
    }
  }

  /**
   * Everything the page knows: one buffer per series. apply(frame) returns what changed, for the
   * renderers: series seen for the first time and the points appended to each series.
   */
  class Model {
    constructor(opts) {
      opts = opts || {};
      this.maxPoints = opts.maxPoints || 3600;
      this.maxAgeMs = opts.maxAgeMs || 15 * 60 * 1000;
      this.series = new Map(); // key -> {key, host, metric, group, colour, buffer}
      this.sequencer = new Sequencer(opts.retryAfter);
      this.status = null;
    }

    _ensure(host, metric, created) {
      const key = seriesKey(host, metric);
      let s = this.series.get(key);
      if (!s) {
        s = {
          key: key,
          host: host,
          metric: metric,
          group: groupOf(metric),
          unit: unitOf(metric),
          label: host + ' · ' + metric,
          colour: colourFor(key),
          buffer: new SeriesBuffer(this.maxPoints, this.maxAgeMs),
        };
        this.series.set(key, s);
        created.push(s);
      }
      return s;
    }

    /**
     * @returns {{action: 'apply'|'ignore'|'resync', reset: boolean, created: object[],
     *            appended: Map<string, object[]>}}
     */
    apply(frame) {
      let action = this.sequencer.accept(frame);
      const out = { action: action, reset: false, created: [], appended: new Map() };
      if (frame.status) this.status = frame.status;
      if (action === 'gap') out.action = 'resync'; // draw the latest points now, then resync
      else if (action !== 'apply') return out;
      if (frame.type === 'snapshot') {
        out.reset = true;
        for (const s of this.series.values()) s.buffer.clear();
      }
      for (const entry of frame.series || []) {
        const s = this._ensure(String(entry.host), String(entry.metric), out.created);
        const added = s.buffer.append(entry.ts || [], entry.y || []);
        if (added.length || out.reset) out.appended.set(s.key, added);
      }
      return out;
    }

    pointCount() {
      let n = 0;
      for (const s of this.series.values()) n += s.buffer.points.length;
      return n;
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
    return frame;
  }

  /** ws(s)://<this page's host><Dash's requests_pathname_prefix>ws — never a hard-coded host. */
  function wsUrl(loc, prefix) {
    let p = prefix || '/';
    if (p.charAt(0) !== '/') p = '/' + p;
    if (p.charAt(p.length - 1) !== '/') p += '/';
    return (loc.protocol === 'https:' ? 'wss:' : 'ws:') + '//' + loc.host + p + 'ws';
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
   * Plotly's extendTraces payload [{x, y}, indices, maxPoints] for the appended points of series
   * that already have a trace.
   */
  function extendPayload(appended, traceIndex, maxPoints) {
    const xs = [];
    const ys = [];
    const idx = [];
    for (const [key, pts] of appended) {
      const i = traceIndex.get(key);
      if (i === undefined || !pts.length) continue;
      xs.push(pts.map(function (p) { return p.x; }));
      ys.push(pts.map(function (p) { return p.y; }));
      idx.push(i);
    }
    return idx.length ? [{ x: xs, y: ys }, idx, maxPoints] : null;
  }

  /** Badge text and class for the socket state and the relay's status (Kafka state, backfill). */
  function connectionLabel(socketOpen, status, reconnectInS) {
    if (!socketOpen) {
      return reconnectInS > 0
        ? { text: 'reconnecting in ' + reconnectInS + ' s', cls: 'badge badge-reconnecting' }
        : { text: 'connecting', cls: 'badge badge-connecting' };
    }
    const kafkaState = status ? status.kafka : null;
    if (kafkaState === 'connected' && status.backfill !== undefined && status.backfill < 1) {
      return { text: 'backfilling ' + Math.floor(status.backfill * 100) + ' %', cls: 'badge badge-connecting' };
    }
    if (kafkaState === 'connected') return { text: 'live', cls: 'badge badge-live' };
    if (kafkaState === 'disconnected') return { text: 'Kafka unreachable', cls: 'badge badge-stale' };
    return { text: 'connecting to Kafka', cls: 'badge badge-connecting' };
  }

  /** The subscription a page asks for, from its URL: ?hosts=web-*,db-1&metrics=cpu.*&interval=1 */
  function subscriptionFromQuery(search) {
    const q = new URLSearchParams(search || '');
    const list = function (name) {
      const v = q.get(name);
      return v ? v.split(',').map(function (x) { return x.trim(); }).filter(Boolean) : [];
    };
    const sub = {};
    if (list('hosts').length) sub.hosts = list('hosts');
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

  return {
    seriesKey: seriesKey,
    subscriptionFromQuery: subscriptionFromQuery,
    staleAge: staleAge,
    splitKey: splitKey,
    familyOf: familyOf,
    unitOf: unitOf,
    groupOf: groupOf,
    formatValue: formatValue,
    hash32: hash32,
    colourFor: colourFor,
    Sequencer: Sequencer,
    SeriesBuffer: SeriesBuffer,
    Model: Model,
    decodeFrame: decodeFrame,
    wsUrl: wsUrl,
    backoffMs: backoffMs,
    extendPayload: extendPayload,
    connectionLabel: connectionLabel,
  };
}));
