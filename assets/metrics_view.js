/* DOM-free presentation of the live page: units and number formatting, per-series colours with a
 * contrast floor, the view state kept in the URL, chart sections and titles, and the page's texts.
 * Browser: window.dash_clientside.metrics.view; node --test: require('assets/metrics_view.js').
 */
(function (root, factory) {
  'use strict';
  const view = factory();
  if (typeof module === 'object' && module.exports) {
    module.exports = view;
  } else {
    root.dash_clientside = root.dash_clientside || {};
    root.dash_clientside.metrics = Object.assign(root.dash_clientside.metrics || {}, { view: view });
    if (root.dash_clientside.metrics._boot) root.dash_clientside.metrics._boot(); // dashboard.js: start early
  }
}(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  // ------------------------------------------------------------------ numbers and units --------
  const BINARY = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi'];
  const SI = ['', 'k', 'M', 'G', 'T', 'P'];

  function scaled(value, base, prefixes) {
    let v = Math.abs(value);
    let i = 0;
    while (v >= base && i < prefixes.length - 1) {
      v /= base;
      i += 1;
    }
    const digits = v >= 100 || Math.abs(v - Math.round(v)) < 1e-9 ? 0 : 1;
    return { text: (value < 0 ? -v : v).toFixed(digits), prefix: prefixes[i] };
  }

  /**
   * Axis and tooltip text: 12.3 %, 1.5 GiB, 3.2 MiB/s (binary prefixes for bytes), 1.2 k ops/s
   * (decimal prefixes for counts), 250 ms.
   */
  function formatValue(value, unit) {
    if (typeof value !== 'number' || !isFinite(value)) return '';
    if (unit === 'B' || unit === 'B/s') {
      const s = scaled(value, 1024, BINARY);
      return s.text + ' ' + s.prefix + unit;
    }
    if (unit === '%') return value.toFixed(Math.abs(value) >= 100 || Number.isInteger(value) ? 0 : 1) + ' %';
    if (unit === 's') {
      const a = Math.abs(value);
      if (a > 0 && a < 1) return (value * 1000).toFixed(a * 1000 >= 100 ? 0 : 1) + ' ms';
      if (a >= 86400) return (value / 86400).toFixed(1) + ' d';
      if (a >= 3600) return (value / 3600).toFixed(1) + ' h';
      return value.toFixed(a >= 100 || Number.isInteger(value) ? 0 : 1) + ' s';
    }
    const a = Math.abs(value);
    let text;
    if (a >= 1000) {
      const s = scaled(value, 1000, SI);
      text = s.text + ' ' + s.prefix;
    } else {
      text = Number.isInteger(value) ? String(value) : value.toFixed(a >= 100 ? 0 : (a >= 10 ? 1 : 2));
    }
    if (unit === 'ops/s') return text + ' ops/s';
    if (unit === '/s') return text + '/s';
    return unit ? text + ' ' + unit : text;
  }

  const UNIT_NAMES = { '%': 'percent', B: 'bytes', 'B/s': 'bytes/s', 'ops/s': 'operations/s', '/s': 'per second',
    s: 'seconds', '': 'count' };

  function unitName(unit) {
    return Object.prototype.hasOwnProperty.call(UNIT_NAMES, unit) ? UNIT_NAMES[unit] : unit;
  }

  // ------------------------------------------------------------------ sections and titles ------
  /** Families shown together, in this order; anything else goes to "Other", by name. */
  const SECTIONS = [
    { id: 'cpu', title: 'CPU', families: ['cpu'] },
    { id: 'memory', title: 'Memory', families: ['mem', 'swap'] },
    { id: 'disk', title: 'Disk', families: ['disk', 'fs'] },
    { id: 'network', title: 'Network', families: ['net'] },
    { id: 'load', title: 'Load', families: ['load', 'system'] },
    { id: 'agent', title: 'Agent health', families: ['agent'] },
  ];
  const UNIT_ORDER = ['%', 'B', 'B/s', 'ops/s', '/s', 's', ''];

  function sectionOf(family) {
    for (let i = 0; i < SECTIONS.length; i++) {
      if (SECTIONS[i].families.indexOf(family) >= 0) return { id: SECTIONS[i].id, title: SECTIONS[i].title, order: i };
    }
    return { id: 'other', title: 'Other', order: SECTIONS.length };
  }

  /** A sort key for a chart: section, family within the section, totals before instances, unit. */
  function chartOrder(family, unit, each) {
    const sec = sectionOf(family);
    const fam = sec.order < SECTIONS.length ? SECTIONS[sec.order].families.indexOf(family) : 0;
    const u = UNIT_ORDER.indexOf(unit);
    return [sec.order, fam, family, each ? 1 : 0, u < 0 ? UNIT_ORDER.length : u, unit].join('\u0000');
  }

  const INSTANCE_NOUNS = { cpu: 'core', disk: 'device', net: 'interface', fs: 'file system' };

  /** "cpu · percent", "disk · bytes/s · per device", "load". */
  function chartTitle(family, unit, each) {
    let title = unit ? family + ' · ' + unitName(unit) : family;
    if (each) title += ' · per ' + (INSTANCE_NOUNS[family] || 'instance');
    return title;
  }

  function niceStep(raw) {
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
  }

  /**
   * Axis ticks from `min` to `max` (at most ~`count`), at round numbers of the unit's prefix: for
   * bytes 0, 4, 8, 12 GiB rather than 0, 4.3, 8.6 GiB (decimal steps shown in binary units).
   */
  function niceTicks(min, max, unit, count) {
    if (!isFinite(min) || !isFinite(max) || max <= min) return null;
    let scale = 1;
    if (unit === 'B' || unit === 'B/s') {
      const top = Math.max(Math.abs(min), Math.abs(max));
      while (top / (scale * 1024) >= 1 && scale < Math.pow(1024, 5)) scale *= 1024;
    }
    const step = niceStep((max - min) / scale / Math.max(1, (count || 6) - 1));
    const lo = Math.floor(min / scale / step + 1e-9) * step;
    const hi = Math.ceil(max / scale / step - 1e-9) * step;
    const out = [];
    for (let v = lo; v <= hi + step / 2 && out.length < 50; v += step) out.push(Number((Math.round(v / step) * step * scale).toPrecision(12)));
    return out;
  }

  /**
   * A value axis from 0 (or below, for negative values) up to at least the data, % up to at least
   * 100: its range and its ticks at round numbers of the unit with their labels. Chart.js gets the
   * same through beginAtZero, suggestedMax and niceTicks; Plotly takes it as tickvals/ticktext.
   */
  function unitAxis(unit, lo, hi) {
    lo = Math.min(0, isFinite(lo) ? lo : 0);
    hi = Math.max(unit === '%' ? 100 : 0, isFinite(hi) ? hi : 0);
    if (!(hi > lo)) hi = lo + 1;
    const ticks = niceTicks(lo, hi, unit, 6) || [lo, hi];
    return { range: [ticks[0], ticks[ticks.length - 1]], ticks: ticks,
      labels: ticks.map(function (v) { return formatValue(v, unit); }) };
  }

  // ------------------------------------------------------------------ colours ------------------
  /** FNV-1a, 32 bit: small, fast, and the same in every browser, so every viewer sees the same colour. */
  function hash32(text) {
    let h = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h >>> 0;
  }

  function hslToRgb(h, s, l) {
    s /= 100;
    l /= 100;
    const k = function (n) { return (n + h / 30) % 12; };
    const a = s * Math.min(l, 1 - l);
    const f = function (n) { return l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1))); };
    return [Math.round(f(0) * 255), Math.round(f(8) * 255), Math.round(f(4) * 255)];
  }

  function toHex(rgb) {
    return '#' + rgb.map(function (c) { return (c < 16 ? '0' : '') + c.toString(16); }).join('');
  }

  function parseHex(hex) {
    const m = /^#?([0-9a-f]{6})$/i.exec(hex.trim());
    if (!m) throw new Error('not a #rrggbb colour: ' + hex);
    const n = parseInt(m[1], 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }

  /** WCAG 2 relative luminance of an sRGB colour. */
  function luminance(rgb) {
    const lin = rgb.map(function (c) {
      const v = c / 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
  }

  /** WCAG 2 contrast ratio of two #rrggbb colours (1 … 21). */
  function contrastRatio(a, b) {
    const la = luminance(parseHex(a));
    const lb = luminance(parseHex(b));
    return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
  }

  /** Chart backgrounds per theme (page and card); lines must stand out on both. Mirrors style.css. */
  const THEMES = {
    light: { backgrounds: ['#ffffff', '#f6f8fa'], stale: '#6e7781', grid: '#d8dee4', text: '#1f2328', muted: '#59636e' },
    dark: { backgrounds: ['#0d1117', '#161b22'], stale: '#8b949e', grid: '#30363d', text: '#e6edf3', muted: '#9198a1' },
  };

  const GOLDEN = 137.50776; // degrees: consecutive numbers land far apart on the colour wheel
  const SILVER = 222.49224; // 360 − golden, for the second number in a name

  /**
   * A stable colour per series (same for every viewer: only the name decides it) that stays
   * readable: the hue comes from the name's non-digit skeleton plus the golden angle times the
   * numbers in it, so neighbours such as web-1, web-2 or core0, core1 get far-apart hues; the
   * lightness is then moved until the line has 3:1 contrast (WCAG non-text) on the theme's
   * backgrounds.
   */
  const colourCache = new Map(); // theme + name -> colour: the contrast search is costly, and asked
  // for every legend item every second

  function colourFor(name, theme) {
    const id = (theme === 'dark' ? 'd' : 'l') + name;
    let hex = colourCache.get(id);
    if (hex === undefined) {
      hex = computeColour(name, theme);
      if (colourCache.size > 20000) colourCache.clear();
      colourCache.set(id, hex);
    }
    return hex;
  }

  function computeColour(name, theme) {
    const t = THEMES[theme] || THEMES.light;
    const numbers = (name.match(/\d+/g) || []).map(Number);
    const skeleton = name.replace(/\d+/g, '#');
    const h = hash32(skeleton);
    let hue = h % 360;
    if (numbers.length) hue += (numbers[0] % 1000) * GOLDEN;
    if (numbers.length > 1) hue += (numbers[numbers.length - 1] % 1000) * SILVER;
    hue = ((hue % 360) + 360) % 360;
    const sat = 62 + ((h >>> 9) % 3) * 10; // 62, 72 or 82 %
    const dark = theme === 'dark';
    let light = dark ? 60 : 42;
    for (let i = 0; i < 40; i++) {
      const hex = toHex(hslToRgb(hue, sat, light));
      if (t.backgrounds.every(function (bg) { return contrastRatio(hex, bg) >= 3; })) return hex;
      light += dark ? 1 : -1;
    }
    return toHex(hslToRgb(hue, sat, light));
  }

  function staleColour(theme) {
    return (THEMES[theme] || THEMES.light).stale;
  }

  /** '#rrggbb' + alpha → 'rgba(…)' (bands, fills). */
  function withAlpha(hex, alpha) {
    const c = parseHex(hex);
    return 'rgba(' + c[0] + ', ' + c[1] + ', ' + c[2] + ', ' + alpha + ')';
  }

  // ------------------------------------------------------------------ view state (URL) ---------
  const WINDOWS = [
    { id: '1m', seconds: 60, label: '1 m' },
    { id: '5m', seconds: 300, label: '5 m' },
    { id: '15m', seconds: 900, label: '15 m' },
    { id: '1h', seconds: 3600, label: '1 h' },
    { id: '24h', seconds: 86400, label: '24 h' },
  ];
  const DEFAULTS = { hosts: [], window: '15m', renderer: 'chartjs', theme: 'auto' };
  const RENDERERS = ['chartjs', 'plotly'];
  const THEME_CHOICES = ['auto', 'light', 'dark'];

  function windowById(id) {
    for (const w of WINDOWS) if (w.id === id) return w;
    return null;
  }

  function listParam(q, name) {
    const v = q.get(name);
    return v ? v.split(',').map(function (x) { return x.trim(); }).filter(Boolean) : [];
  }

  /**
   * What the page shows, from its URL (a link reproduces the view):
   * ?hosts=web-1,db-*&window=1h&renderer=plotly&theme=dark. Unknown values fall back to defaults.
   */
  function viewStateFromQuery(search) {
    const q = new URLSearchParams(search || '');
    const w = q.get('window');
    const r = q.get('renderer');
    const t = q.get('theme');
    return {
      hosts: listParam(q, 'hosts'),
      window: windowById(w) ? w : DEFAULTS.window,
      renderer: RENDERERS.indexOf(r) >= 0 ? r : DEFAULTS.renderer,
      theme: THEME_CHOICES.indexOf(t) >= 0 ? t : DEFAULTS.theme,
    };
  }

  /** The query string for `state`, keeping other parameters (metrics, interval) as they are. */
  function queryFromViewState(state, search) {
    const q = new URLSearchParams(search || '');
    const set = function (name, value, dflt) {
      if (value === dflt || value === '' || value === undefined) q.delete(name);
      else q.set(name, value);
    };
    set('hosts', (state.hosts || []).join(','), '');
    set('window', state.window, DEFAULTS.window);
    set('renderer', state.renderer, DEFAULTS.renderer);
    set('theme', state.theme, DEFAULTS.theme);
    const text = q.toString().replace(/%2C/gi, ',').replace(/%2A/gi, '*');
    return text ? '?' + text : '';
  }

  /** The theme to draw with: the URL's choice, or the OS preference for 'auto'. */
  function resolveTheme(choice, prefersDark) {
    if (choice === 'light' || choice === 'dark') return choice;
    return prefersDark ? 'dark' : 'light';
  }

  // ------------------------------------------------------------------ host selection -----------
  const globCache = new Map();

  /** Shell-style pattern (*, ?, […]) as the relay's fnmatch understands it, anchored, case-sensitive. */
  function globToRegExp(pattern) {
    let re = globCache.get(pattern);
    if (re) return re;
    let out = '';
    for (let i = 0; i < pattern.length; i++) {
      const c = pattern.charAt(i);
      if (c === '*') out += '.*';
      else if (c === '?') out += '.';
      else if (c === '[') {
        const j = pattern.indexOf(']', i + 2);
        if (j < 0) {
          out += '\\[';
        } else {
          let body = pattern.slice(i + 1, j).replace(/\\/g, '\\\\');
          if (body.charAt(0) === '!') body = '^' + body.slice(1);
          out += '[' + body + ']';
          i = j;
        }
      } else out += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
    }
    re = new RegExp('^(?:' + out + ')$');
    if (globCache.size > 500) globCache.clear();
    globCache.set(pattern, re);
    return re;
  }

  /** An empty selection means every host (including hosts that appear later). */
  function hostSelected(selection, host) {
    if (!selection || !selection.length) return true;
    for (const p of selection) {
      if (p === host || globToRegExp(p).test(host)) return true;
    }
    return false;
  }

  /** Case-insensitive substring filter of the picker's search box. */
  function searchHosts(hosts, query) {
    const q = (query || '').trim().toLowerCase();
    if (!q) return hosts.slice();
    return hosts.filter(function (h) { return h.toLowerCase().indexOf(q) >= 0; });
  }

  /** The picker's button text: "All hosts (12)" or "3 of 12 hosts". */
  function hostSummary(selection, known) {
    if (!selection || !selection.length) return 'All hosts (' + known.length + ')';
    const n = known.filter(function (h) { return hostSelected(selection, h); }).length;
    return n + ' of ' + known.length + ' host' + (known.length === 1 ? '' : 's');
  }

  // ------------------------------------------------------------------ texts --------------------
  /** "12 s", "4 min", "2 h": how long a host has been silent. */
  function ageText(seconds) {
    if (seconds < 90) return Math.round(seconds) + ' s';
    if (seconds < 5400) return Math.round(seconds / 60) + ' min';
    return Math.round(seconds / 3600) + ' h';
  }

  function staleText(seconds) {
    return 'stale: nothing for ' + ageText(seconds);
  }

  function lagText(ms) {
    if (ms === null || ms === undefined) return 'lag —';
    return 'lag ' + (ms < 10000 ? Math.round(ms) + ' ms' : (ms / 1000).toFixed(0) + ' s');
  }

  /**
   * What to tell a user looking at an empty page, or null when charts have something to show.
   * ctx: {connected, status, topic, servers, knownHosts, shownSeries, selection, window}
   */
  function emptyState(ctx) {
    if (ctx.shownSeries > 0) return null;
    const status = ctx.status || {};
    if (!ctx.connected) return 'Connecting to the dashboard… if this stays, check that the dashboard process is running.';
    if (status.kafka === 'disconnected') {
      return 'Cannot reach Kafka at ' + ctx.servers + ' — is the broker up? (KAFKA_BOOTSTRAP_SERVERS)';
    }
    if (status.kafka === 'connected' && status.backfill !== undefined && status.backfill < 1) {
      return 'Reading history from topic ' + ctx.topic + ' (' + Math.floor(status.backfill * 100) + ' %)…';
    }
    if (!ctx.knownHosts) {
      return 'No data on topic ' + ctx.topic + ' from ' + ctx.servers + ' yet — is the producer running? ' +
        'Start one with: python -m producer --bootstrap-servers ' + ctx.servers + ' --topic ' + ctx.topic;
    }
    if (ctx.selection && ctx.selection.length) {
      return 'No host matches ' + ctx.selection.join(', ') + ' — pick hosts in the host picker, or choose All hosts.';
    }
    return 'Nothing in the last ' + ctx.window + ' — choose a longer window, or check that the producers are running.';
  }

  /** Plotly renders a subset of HTML in names and titles; entities make it show the text as is. */
  function plotlyText(text) {
    return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  }

  return {
    formatValue: formatValue,
    unitName: unitName,
    SECTIONS: SECTIONS,
    sectionOf: sectionOf,
    chartOrder: chartOrder,
    chartTitle: chartTitle,
    niceTicks: niceTicks,
    unitAxis: unitAxis,
    hash32: hash32,
    hslToRgb: hslToRgb,
    contrastRatio: contrastRatio,
    THEMES: THEMES,
    colourFor: colourFor,
    staleColour: staleColour,
    withAlpha: withAlpha,
    WINDOWS: WINDOWS,
    DEFAULTS: DEFAULTS,
    windowById: windowById,
    viewStateFromQuery: viewStateFromQuery,
    queryFromViewState: queryFromViewState,
    resolveTheme: resolveTheme,
    globToRegExp: globToRegExp,
    hostSelected: hostSelected,
    searchHosts: searchHosts,
    hostSummary: hostSummary,
    ageText: ageText,
    staleText: staleText,
    lagText: lagText,
    emptyState: emptyState,
    plotlyText: plotlyText,
  };
}));
