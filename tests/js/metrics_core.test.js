'use strict';
// DOM-free logic of assets/metrics_core.js, run with `node --test tests/js/`.
const test = require('node:test');
const assert = require('node:assert/strict');
const core = require('../../assets/metrics_core.js');

const snapshot = (seq, series) => ({ type: 'snapshot', v: 2, epoch: 'e1', seq, series: series || [] });
const data = (seq, series) => ({ type: 'data', seq, series: series || [] });
const s = (host, metric, ts, y) => ({ host, metric, ts, y: y || ts.map((t) => t / 10) });

test('colours are stable, valid and differ between neighbouring series', () => {
  const a = core.colourFor(core.seriesKey('web-1', 'cpu.percent'));
  assert.equal(a, core.colourFor(core.seriesKey('web-1', 'cpu.percent')));
  assert.match(a, /^hsl\(\d{1,3}, 70%, (38|46|54)%\)$/);
  const names = ['web-1', 'web-2', 'web-3', 'db-1', 'db-2'].map((h) => core.colourFor(core.seriesKey(h, 'cpu.percent')));
  assert.equal(new Set(names).size, names.length);
});

test('hash32 is FNV-1a', () => {
  assert.equal(core.hash32(''), 0x811c9dc5);
  assert.equal(core.hash32('a'), 0xe40c292c);
});

test('series keys round-trip even with separators in names', () => {
  const k = core.seriesKey('h|1:x', 'cpu.percent');
  assert.deepEqual(core.splitKey(k), { host: 'h|1:x', metric: 'cpu.percent' });
  assert.equal(core.familyOf('cpu.percent'), 'cpu');
  assert.equal(core.groupOf('uptime'), 'uptime');
});

test('charts group by family and unit, so percent and bytes never share an axis', () => {
  assert.equal(core.groupOf('cpu.percent'), 'cpu · %');
  assert.equal(core.groupOf('mem.used_percent'), 'mem · %');
  assert.equal(core.groupOf('mem.used_bytes'), 'mem · B');
  assert.equal(core.groupOf('net.eth0.rx_bytes_per_s'), 'net · B/s');
  assert.equal(core.unitOf('mem.total_bytes'), 'B');
  assert.equal(core.unitOf('load.1m'), '');
});

test('values are formatted with their unit, bytes with binary prefixes', () => {
  assert.equal(core.formatValue(12.345, '%'), '12.3 %');
  assert.equal(core.formatValue(512, 'B'), '512 B');
  assert.equal(core.formatValue(1536, 'B'), '1.5 KiB');
  assert.equal(core.formatValue(3 * 1024 ** 3, 'B'), '3.0 GiB');
  assert.equal(core.formatValue(200 * 1024 ** 2, 'B/s'), '200 MiB/s');
  assert.equal(core.formatValue(0.5, ''), '0.5');
  assert.equal(core.formatValue(NaN, '%'), '');
});

test('sequencer: data before the snapshot is ignored, then only the next seq applies', () => {
  const q = new core.Sequencer();
  assert.equal(q.accept(data(1)), 'ignore');
  assert.equal(q.accept(snapshot(5)), 'apply');
  assert.equal(q.accept(data(5)), 'ignore'); // already in the snapshot
  assert.equal(q.accept(data(6)), 'apply');
  assert.equal(q.accept(data(6)), 'ignore'); // duplicate
  assert.equal(q.accept(data(8)), 'resync'); // 7 was skipped
  assert.equal(q.gaps, 1);
  assert.equal(q.accept(data(9)), 'ignore'); // waiting for the snapshot
  assert.equal(q.accept(snapshot(9)), 'apply');
  assert.equal(q.accept(data(10)), 'apply');
});

test('sequencer follows the prev chain of a subscription that skips ticks', () => {
  const q = new core.Sequencer();
  q.accept(snapshot(10));
  assert.equal(q.accept({ type: 'data', seq: 14, prev: 9, series: [] }), 'apply'); // nothing for us in 11..13
  assert.equal(q.accept({ type: 'data', seq: 20, prev: 14, series: [] }), 'apply');
  assert.equal(q.accept({ type: 'data', seq: 30, prev: 25, series: [] }), 'resync'); // frame 25 was skipped
});

test('sequencer resumes after a reconnect with a catchup from its last seq', () => {
  const q = new core.Sequencer();
  q.accept(snapshot(10));
  q.accept(data(11));
  assert.ok(q.canResume());
  q.reset(); // new socket
  assert.equal(q.accept(data(12)), 'ignore'); // data before the catchup is not ours to apply
  assert.equal(q.accept({ type: 'catchup', epoch: 'e1', from: 11, seq: 15, series: [] }), 'apply');
  assert.equal(q.last, 15);
  assert.equal(q.accept({ type: 'data', seq: 16, prev: 15, series: [] }), 'apply');
  q.reset();
  assert.equal(q.accept({ type: 'catchup', epoch: 'other', from: 16, seq: 20, series: [] }), 'resync');
});

test('a gap frame draws the latest points, then asks for a snapshot', () => {
  const m = new core.Model({ maxAgeMs: 10 ** 9 });
  m.apply(snapshot(1, [s('h', 'cpu.percent', [1])]));
  const out = m.apply({ type: 'gap', seq: 9, reason: 'client too slow', series: [s('h', 'cpu.percent', [8])] });
  assert.equal(out.action, 'resync');
  assert.deepEqual(out.appended.get(core.seriesKey('h', 'cpu.percent')).map((p) => p.x), [8]);
  assert.equal(m.apply(data(10)).action, 'ignore');
  assert.equal(m.apply(snapshot(10, [s('h', 'cpu.percent', [1, 5, 8])])).action, 'apply');
  assert.deepEqual(m.series.get(core.seriesKey('h', 'cpu.percent')).buffer.points.map((p) => p.x), [1, 5, 8]);
});

test('sequencer asks again when the snapshot itself was lost', () => {
  const q = new core.Sequencer(3);
  q.accept(snapshot(1));
  assert.equal(q.accept(data(3)), 'resync');
  assert.equal(q.accept(data(4)), 'ignore');
  assert.equal(q.accept(data(5)), 'ignore');
  assert.equal(q.accept(data(6)), 'resync');
});

test('buffer keeps each sample once, in order, bounded by count and age', () => {
  const b = new core.SeriesBuffer(4, 1000);
  assert.deepEqual(b.append([1, 2, 3], [10, 20, 30]).map((p) => p.x), [1, 2, 3]);
  assert.deepEqual(b.append([3, 2, 4], [0, 0, 40]).map((p) => p.x), [4]);
  assert.equal(b.duplicates, 2);
  b.append([5, 6], [50, 60]);
  assert.deepEqual(b.points.map((p) => p.x), [3, 4, 5, 6]);
  b.append([2000], [1]);
  assert.deepEqual(b.points.map((p) => p.x), [2000]); // older than 1 s behind the newest
  const same = b.points;
  b.clear();
  assert.equal(b.points, same); // cleared in place: charts share this array
  assert.equal(b.points.length, 0);
});

test('model: new series are reported once, snapshot resets, points never duplicate', () => {
  const m = new core.Model({ maxPoints: 100, maxAgeMs: 10 ** 9 });
  let out = m.apply(snapshot(1, [s('h1', 'cpu.percent', [1, 2])]));
  assert.equal(out.action, 'apply');
  assert.equal(out.reset, true);
  assert.deepEqual(out.created.map((x) => x.label), ['h1 · cpu.percent']);
  out = m.apply(data(2, [s('h1', 'cpu.percent', [2, 3]), s('h2', 'cpu.percent', [3])]));
  assert.deepEqual(out.created.map((x) => x.host), ['h2']);
  assert.deepEqual(out.appended.get(core.seriesKey('h1', 'cpu.percent')).map((p) => p.x), [3]);
  out = m.apply(data(4, [s('h1', 'cpu.percent', [9])]));
  assert.equal(out.action, 'resync');
  assert.equal(m.series.get(core.seriesKey('h1', 'cpu.percent')).buffer.points.length, 3);
  out = m.apply(snapshot(4, [s('h1', 'cpu.percent', [1, 2, 3, 9])]));
  assert.equal(out.created.length, 0);
  assert.deepEqual(m.series.get(core.seriesKey('h1', 'cpu.percent')).buffer.points.map((p) => p.x), [1, 2, 3, 9]);
  assert.equal(m.series.get(core.seriesKey('h2', 'cpu.percent')).buffer.points.length, 0);
  assert.equal(m.pointCount(), 4);
});

test('status rides on frames, even ignored ones', () => {
  const m = new core.Model();
  m.apply({ type: 'data', seq: 3, series: [], status: { kafka: 'connected' } });
  assert.deepEqual(m.status, { kafka: 'connected' });
});

test('decodeFrame rejects frames without type or seq', () => {
  assert.deepEqual(core.decodeFrame('{"type":"data","seq":1,"series":[]}').seq, 1);
  assert.throws(() => core.decodeFrame('[]'));
  assert.throws(() => core.decodeFrame('{"type":"data"}'));
  assert.throws(() => core.decodeFrame('not json'));
  assert.equal(core.decodeFrame('{"type":"error","error":"x"}').type, 'error');
});

test('wsUrl follows the page location and Dash prefix', () => {
  assert.equal(core.wsUrl({ protocol: 'http:', host: '127.0.0.1:8050' }, '/'), 'ws://127.0.0.1:8050/ws');
  assert.equal(core.wsUrl({ protocol: 'https:', host: 'portal.example' }, '/tools/metrics/'),
    'wss://portal.example/tools/metrics/ws');
  assert.equal(core.wsUrl({ protocol: 'http:', host: 'h' }, 'x'), 'ws://h/x/ws');
});

test('backoff grows exponentially, is jittered and capped', () => {
  const lo = (a) => core.backoffMs(a, { random: () => 0 });
  const hi = (a) => core.backoffMs(a, { random: () => 1 });
  assert.deepEqual([0, 1, 2, 3].map(hi), [500, 1000, 2000, 4000]);
  assert.deepEqual([0, 1].map(lo), [250, 500]);
  assert.equal(hi(20), 10000);
});

test('extendPayload only covers series that have a trace, in Plotly extendTraces shape', () => {
  const appended = new Map([
    ['a', [{ x: 1, y: 2 }, { x: 2, y: 3 }]],
    ['b', [{ x: 5, y: 6 }]],
    ['c', []],
  ]);
  const idx = new Map([['a', 0], ['c', 2]]);
  assert.deepEqual(core.extendPayload(appended, idx, 100), [{ x: [[1, 2]], y: [[2, 3]] }, [0], 100]);
  assert.equal(core.extendPayload(new Map(), idx, 100), null);
});

test('connection label', () => {
  assert.equal(core.connectionLabel(true, { kafka: 'connected', backfill: 1 }, 0).text, 'live');
  assert.equal(core.connectionLabel(true, { kafka: 'connected', backfill: 0.637 }, 0).text, 'backfilling 63 %');
  assert.equal(core.connectionLabel(false, null, 3).text, 'reconnecting in 3 s');
  assert.equal(core.connectionLabel(true, { kafka: 'disconnected' }, 0).text, 'Kafka unreachable');
  assert.equal(core.connectionLabel(true, null, 0).text, 'connecting to Kafka');
});

test('subscription from the page URL', () => {
  assert.deepEqual(core.subscriptionFromQuery('?hosts=web-*,db-1&metrics=cpu.*&interval=2'),
    { hosts: ['web-*', 'db-1'], metrics: ['cpu.*'], interval: 2 });
  assert.deepEqual(core.subscriptionFromQuery('?renderer=plotly'), {});
});

test('stale age comes from the relay status', () => {
  assert.equal(core.staleAge({ stale: { quiet: 12 } }, 'quiet'), 12);
  assert.equal(core.staleAge({ stale: { quiet: 12 } }, 'busy'), null);
  assert.equal(core.staleAge(null, 'x'), null);
});
