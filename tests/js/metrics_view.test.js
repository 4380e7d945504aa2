'use strict';
// DOM-free presentation in assets/metrics_view.js, run with `node --test tests/js/`.
const test = require('node:test');
const assert = require('node:assert/strict');
const view = require('../../assets/metrics_view.js');
const core = require('../../assets/metrics_core.js');

const key = (host, metric) => core.seriesKey(host, metric);
const hueOf = (hex) => {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  const d = max - min;
  if (!d) return 0;
  const h = max === r ? ((g - b) / d) % 6 : max === g ? (b - r) / d + 2 : (r - g) / d + 4;
  return (h * 60 + 360) % 360;
};
const hueDistance = (a, b) => {
  const d = Math.abs(hueOf(a) - hueOf(b)) % 360;
  return Math.min(d, 360 - d);
};

test('hash32 is FNV-1a', () => {
  assert.equal(view.hash32(''), 0x811c9dc5);
  assert.equal(view.hash32('a'), 0xe40c292c);
});

test('colours are stable per series name and valid #rrggbb', () => {
  const a = view.colourFor(key('web-1', 'cpu.percent'), 'light');
  assert.equal(a, view.colourFor(key('web-1', 'cpu.percent'), 'light'));
  assert.match(a, /^#[0-9a-f]{6}$/);
  assert.notEqual(a, view.colourFor(key('web-1', 'mem.used_percent'), 'light'));
});

test('numbered neighbours get far-apart hues (web-1, web-2, …; core0, core1, …)', () => {
  for (const theme of ['light', 'dark']) {
    const hosts = Array.from({ length: 12 }, (_, i) => view.colourFor(key('web-' + (i + 1), 'cpu.percent'), theme));
    for (let i = 1; i < hosts.length; i++) {
      assert.ok(hueDistance(hosts[i - 1], hosts[i]) >= 30, `web-${i} and web-${i + 1} too close in ${theme}`);
    }
    const cores = Array.from({ length: 8 }, (_, i) => view.colourFor(key('db-1', `cpu.core${i}.percent`), theme));
    for (let i = 1; i < cores.length; i++) assert.ok(hueDistance(cores[i - 1], cores[i]) >= 30);
    assert.equal(new Set(hosts).size, hosts.length);
  }
});

test('every series colour has 3:1 contrast on both backgrounds of its theme (WCAG non-text)', () => {
  const names = [];
  for (let i = 0; i < 200; i++) names.push(key('host-' + i + '-' + (i * 7919 % 97), 'm.' + i));
  names.push(key('<img src=x onerror=alert(1)>', 'cpu.percent'));
  for (const theme of ['light', 'dark']) {
    for (const n of names) {
      const c = view.colourFor(n, theme);
      for (const bg of view.THEMES[theme].backgrounds) {
        assert.ok(view.contrastRatio(c, bg) >= 3, `${c} on ${bg} (${theme}) for ${JSON.stringify(n)}`);
      }
    }
    for (const bg of view.THEMES[theme].backgrounds) {
      assert.ok(view.contrastRatio(view.staleColour(theme), bg) >= 3);
      assert.ok(view.contrastRatio(view.THEMES[theme].muted, bg) >= 4.5, 'axis labels are text: 4.5:1');
      assert.ok(view.contrastRatio(view.THEMES[theme].text, bg) >= 4.5);
    }
  }
});

test('contrast ratio matches WCAG reference values', () => {
  assert.equal(view.contrastRatio('#000000', '#ffffff'), 21);
  assert.equal(view.contrastRatio('#ffffff', '#ffffff'), 1);
  assert.ok(Math.abs(view.contrastRatio('#777777', '#ffffff') - 4.48) < 0.01);
  assert.throws(() => view.contrastRatio('red', '#fff'));
});

test('values are formatted with their unit: binary prefixes for bytes, decimal for counts', () => {
  assert.equal(view.formatValue(12.345, '%'), '12.3 %');
  assert.equal(view.formatValue(100, '%'), '100 %');
  assert.equal(view.formatValue(80, '%'), '80 %'); // axis ticks without a useless .0
  assert.equal(view.formatValue(0.04, '%'), '0.0 %');
  assert.equal(view.formatValue(512, 'B'), '512 B');
  assert.equal(view.formatValue(1536, 'B'), '1.5 KiB');
  assert.equal(view.formatValue(3 * 1024 ** 3, 'B'), '3 GiB');
  assert.equal(view.formatValue(200 * 1024 ** 2, 'B/s'), '200 MiB/s');
  assert.equal(view.formatValue(-1536, 'B/s'), '-1.5 KiB/s');
  assert.equal(view.formatValue(1234, 'ops/s'), '1.2 k ops/s');
  assert.equal(view.formatValue(12, 'ops/s'), '12 ops/s');
  assert.equal(view.formatValue(25000, '/s'), '25 k/s');
  assert.equal(view.formatValue(0.0023, 's'), '2.3 ms');
  assert.equal(view.formatValue(7200, 's'), '2.0 h');
  assert.equal(view.formatValue(42, 's'), '42 s');
  assert.equal(view.formatValue(0.5, ''), '0.50');
  assert.equal(view.formatValue(1.5e6, ''), '1.5 M');
  assert.equal(view.formatValue(NaN, '%'), '');
  assert.equal(view.formatValue(undefined, 'B'), '');
});

test('axis ticks are round numbers in the unit shown (GiB steps, not decimal steps in GiB)', () => {
  const gib = view.niceTicks(0, 27.9 * 1024 ** 3, 'B', 6).map((v) => view.formatValue(v, 'B'));
  assert.deepEqual(gib, ['0 B', '10 GiB', '20 GiB', '30 GiB']);
  assert.deepEqual(view.niceTicks(0, 100, '%', 6), [0, 20, 40, 60, 80, 100]);
  assert.deepEqual(view.niceTicks(0, 0.7, '', 6), [0, 0.2, 0.4, 0.6, 0.8]);
  assert.equal(view.niceTicks(5, 5, '%', 6), null);
});

test('sections and chart order follow the metric families; unknown families go last', () => {
  assert.deepEqual(view.sectionOf('mem'), { id: 'memory', title: 'Memory', order: 1 });
  assert.equal(view.sectionOf('fs').id, 'disk');
  assert.equal(view.sectionOf('agent').title, 'Agent health');
  assert.equal(view.sectionOf('gpu').id, 'other');
  const charts = [['gpu', '%', false], ['mem', 'B', false], ['cpu', '%', true], ['cpu', '/s', false],
    ['cpu', '%', false], ['mem', '%', false], ['load', '', false]];
  charts.sort((a, b) => (view.chartOrder(...a) < view.chartOrder(...b) ? -1 : 1));
  assert.deepEqual(charts.map((c) => view.chartTitle(...c)),
    ['cpu · percent', 'cpu · per second', 'cpu · percent · per core', 'mem · percent', 'mem · bytes', 'load',
      'gpu · percent']);
});

test('view state round-trips through the URL and keeps other parameters', () => {
  assert.deepEqual(view.viewStateFromQuery(''), { hosts: [], window: '15m', renderer: 'chartjs', theme: 'auto' });
  const st = view.viewStateFromQuery('?hosts=web-*,db-1&window=1h&renderer=plotly&theme=dark&metrics=cpu.*');
  assert.deepEqual(st, { hosts: ['web-*', 'db-1'], window: '1h', renderer: 'plotly', theme: 'dark' });
  assert.equal(view.queryFromViewState(st, '?metrics=cpu.*&window=5m'),
    '?metrics=cpu.*&window=1h&hosts=web-*,db-1&renderer=plotly&theme=dark');
  assert.equal(view.queryFromViewState(view.DEFAULTS, '?window=1h&theme=dark'), '', 'defaults are left out');
  assert.deepEqual(view.viewStateFromQuery('?window=2y&renderer=svg&theme=pink'), view.DEFAULTS);
  const odd = { hosts: ['a&b=c', 'x y'], window: '1m', renderer: 'chartjs', theme: 'auto' };
  assert.deepEqual(view.viewStateFromQuery(view.queryFromViewState(odd, '')).hosts, odd.hosts);
  assert.deepEqual(view.WINDOWS.map((w) => [w.id, w.seconds]),
    [['1m', 60], ['5m', 300], ['15m', 900], ['1h', 3600], ['24h', 86400]]);
});

test('theme follows the OS unless the URL chose one', () => {
  assert.equal(view.resolveTheme('auto', true), 'dark');
  assert.equal(view.resolveTheme('auto', false), 'light');
  assert.equal(view.resolveTheme('light', true), 'light');
  assert.equal(view.resolveTheme('dark', false), 'dark');
});

test('host selection: empty is all, exact names and shell patterns as the relay reads them', () => {
  assert.ok(view.hostSelected([], 'anything'));
  assert.ok(view.hostSelected(['web-*'], 'web-12'));
  assert.ok(!view.hostSelected(['web-*'], 'db-1'));
  assert.ok(view.hostSelected(['db-?'], 'db-1'));
  assert.ok(!view.hostSelected(['db-?'], 'db-10'));
  assert.ok(view.hostSelected(['db-[12]'], 'db-2'));
  assert.ok(!view.hostSelected(['db-[!12]'], 'db-2'));
  assert.ok(view.hostSelected(['a.b'], 'a.b'));
  assert.ok(!view.hostSelected(['a.b'], 'axb'), 'dots are literal');
  assert.ok(view.hostSelected(['<img src=x onerror=alert(1)>'], '<img src=x onerror=alert(1)>'));
  assert.ok(view.hostSelected(['(x'], '(x'), 'regex characters are literal');
});

test('picker search and summary', () => {
  const hosts = ['db-1', 'web-1', 'web-2'];
  assert.deepEqual(view.searchHosts(hosts, 'WEB'), ['web-1', 'web-2']);
  assert.deepEqual(view.searchHosts(hosts, '  '), hosts);
  assert.equal(view.hostSummary([], hosts), 'All hosts (3)');
  assert.equal(view.hostSummary(['web-*'], hosts), '2 of 3 hosts');
});

test('texts: ages, lag, stale', () => {
  assert.equal(view.ageText(12.4), '12 s');
  assert.equal(view.ageText(600), '10 min');
  assert.equal(view.ageText(7200), '2 h');
  assert.equal(view.staleText(12), 'stale: nothing for 12 s');
  assert.equal(view.lagText(null), 'lag —');
  assert.equal(view.lagText(142.4), 'lag 142 ms');
  assert.equal(view.lagText(42000), 'lag 42 s');
});

test('empty states say what to do', () => {
  const base = { connected: true, status: { kafka: 'connected', backfill: 1 }, topic: 'metrics', servers: 'k:9092',
    knownHosts: 0, shownSeries: 0, selection: [], window: '15 m' };
  assert.match(view.emptyState(base), /^No data on topic metrics from k:9092 yet — is the producer running\?/);
  assert.match(view.emptyState(base), /python -m producer --bootstrap-servers k:9092 --topic metrics/);
  assert.match(view.emptyState({ ...base, status: { kafka: 'disconnected' } }), /Cannot reach Kafka at k:9092/);
  assert.match(view.emptyState({ ...base, status: { kafka: 'connected', backfill: 0.4 } }), /40 %/);
  assert.match(view.emptyState({ ...base, connected: false }), /^Connecting/);
  assert.match(view.emptyState({ ...base, knownHosts: 2, selection: ['web-9'] }), /No host matches web-9/);
  assert.match(view.emptyState({ ...base, knownHosts: 2 }), /Nothing in the last 15 m/);
  assert.equal(view.emptyState({ ...base, shownSeries: 1 }), null);
});

test('names for Plotly are entity-escaped so they show as typed', () => {
  assert.equal(view.plotlyText('<img src=x onerror=alert(1)> & co'), '&lt;img src=x onerror=alert(1)&gt; &amp; co');
});

test('unitAxis: the Plotly fallback gets the same round ticks and labels as Chart.js', () => {
  const MiB = 1024 * 1024;
  const bytes = view.unitAxis('B/s', 0, 5.5 * MiB);
  assert.deepEqual(bytes.labels, ['0 B/s', '2 MiB/s', '4 MiB/s', '6 MiB/s']); // binary steps, as in Chart.js
  assert.deepEqual(bytes.range, [0, 6 * MiB]);
  const pct = view.unitAxis('%', 3, 42);
  assert.deepEqual(pct.range, [0, 100], 'percent runs to 100 like suggestedMax in Chart.js');
  assert.equal(pct.labels[pct.labels.length - 1], '100 %');
  assert.deepEqual(view.unitAxis('%', 0, 130).range.map((v) => v >= 130), [false, true], 'above 100 when the data is');
  assert.deepEqual(view.unitAxis('ops/s', 0, 0).range, [0, 1], 'a flat zero line still gets an axis');
  assert.equal(view.unitAxis('', -4, 3).range[0] <= -4, true, 'negative values stay on the axis');
  assert.deepEqual(view.unitAxis('B', Infinity, -Infinity).range, [0, 1], 'no points: a unit axis');
});
