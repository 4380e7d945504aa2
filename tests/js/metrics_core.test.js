'use strict';
// DOM-free logic of assets/metrics_core.js, run with `node --test tests/js/`.
const test = require('node:test');
const assert = require('node:assert/strict');
const core = require('../../assets/metrics_core.js');

const snapshot = (seq, series) => ({ type: 'snapshot', v: 2, epoch: 'e1', seq, series: series || [] });
const data = (seq, series) => ({ type: 'data', seq, series: series || [] });
const s = (host, metric, ts, y) => ({ host, metric, ts, y: y || ts.map((t) => t / 10) });

test('series keys round-trip even with separators in names', () => {
  const k = core.seriesKey('h|1:x', 'cpu.percent');
  assert.deepEqual(core.splitKey(k), { host: 'h|1:x', metric: 'cpu.percent' });
  assert.equal(core.familyOf('cpu.percent'), 'cpu');
  assert.equal(core.groupOf('uptime'), 'uptime');
});

test('charts group by family and unit, so percent and bytes never share an axis', () => {
  assert.equal(core.groupOf('cpu.percent'), 'cpu · %');
  assert.equal(core.groupOf('cpu.core3.percent'), 'cpu · % · each'); // instances apart from totals
  assert.equal(core.groupOf('fs./home.used_percent'), 'fs · % · each');
  assert.equal(core.perInstance('net.eth0.100.rx_bytes_per_s'), true);
  assert.equal(core.perInstance('load.1m'), false);
  assert.equal(core.unitOf('disk.reads_per_s'), 'ops/s');
  assert.equal(core.unitOf('disk.sda.writes_per_s'), 'ops/s');
  assert.equal(core.unitOf('cpu.ctx_switches_per_s'), '/s');
  assert.equal(core.unitOf('agent.sample_seconds'), 's');
  assert.equal(core.groupOf('mem.used_percent'), 'mem · %');
  assert.equal(core.groupOf('mem.used_bytes'), 'mem · B');
  assert.equal(core.groupOf('net.rx_bytes_per_s'), 'net · B/s');
  assert.equal(core.groupOf('net.eth0.rx_bytes_per_s'), 'net · B/s · each');
  assert.equal(core.unitOf('mem.total_bytes'), 'B');
  assert.equal(core.unitOf('load.1m'), '');
});

test('sequencer: data before the snapshot is ignored, then only the next seq applies', () => {
  const q = new core.Sequencer();
  assert.equal(q.accept(data(1)), 'ignore');
  assert.equal(q.accept(snapshot(5)), 'apply');
  assert.equal(q.accept(data(5)), 'ignore'); // already in the snapshot
  assert.equal(q.accept(data(6)), 'apply');
  assert.equal(q.accept(data(6)), 'ignore'); // duplicate
  assert.equal(q.accept(data(8)), 'resume'); // 7 was skipped: ask for the ticks after 6
  assert.equal(q.gaps, 1);
  assert.equal(q.accept(data(9)), 'ignore'); // waiting for the catchup
  assert.equal(q.accept({ type: 'catchup', epoch: 'e1', from: 6, seq: 9, series: [] }), 'apply');
  assert.equal(q.accept(data(10)), 'apply');
  q.reset('snapshot'); // asked for a snapshot (new window): no base to resume from
  assert.equal(q.canResume(), false);
  assert.equal(q.accept(snapshot(12)), 'apply');
  assert.equal(q.accept(data(13)), 'apply');
});

test('sequencer follows the prev chain of a subscription that skips ticks', () => {
  const q = new core.Sequencer();
  q.accept(snapshot(10));
  assert.equal(q.accept({ type: 'data', seq: 14, prev: 9, series: [] }), 'apply'); // nothing for us in 11..13
  assert.equal(q.accept({ type: 'data', seq: 20, prev: 14, series: [] }), 'apply');
  assert.equal(q.accept({ type: 'data', seq: 30, prev: 25, series: [] }), 'resume'); // frame 25 was skipped
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

test('sequencer asks again when the answer itself was lost', () => {
  const q = new core.Sequencer(5);
  q.accept(snapshot(1));
  assert.equal(q.accept(data(3)), 'resume');
  assert.equal(q.accept(data(4)), 'ignore');
  assert.equal(q.accept(data(5)), 'ignore');
  assert.equal(q.accept(data(6)), 'resume', 'a catchup is cheap: asked again after 3 frames');
  q.reset('snapshot');
  for (let seq = 7; seq < 11; seq++) assert.equal(q.accept(data(seq)), 'ignore');
  assert.equal(q.accept(data(11)), 'resync', 'a snapshot after retryAfter frames');
});

test('sequencer: a data frame where the answer to ready/resume should be means it was lost', () => {
  const q = new core.Sequencer(20);
  q.reset('hello'); // sent ready: the relay sends nothing before the snapshot
  assert.equal(q.accept(data(7)), 'resync', 'ask again at once, not after 20 frames');
  q.reset('snapshot'); // sent resync: frames in flight may come first
  assert.equal(q.accept(data(8)), 'ignore');
  assert.equal(q.accept(snapshot(8)), 'apply');
  assert.equal(q.accept(data(9)), 'apply');
  q.reset('hello'); // a reconnect: resume
  assert.equal(q.accept(data(14)), 'resume', 'the catchup was lost: resume again at once');
  q.reset('hello');
  assert.equal(q.accept({ type: 'catchup', epoch: 'e1', from: 9, seq: 12, series: [] }), 'apply');
  assert.equal(q.accept(data(13)), 'apply');
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
  assert.equal(out.action, 'resume'); // 3 was skipped: ask for a catchup
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

test('isTierSnapshot tells buckets from raw samples', () => {
  assert.equal(core.isTierSnapshot({ type: 'snapshot', series: [{ host: 'a', metric: 'm', ts: [1], y: [2] }] }), false);
  assert.equal(core.isTierSnapshot({ type: 'snapshot', series: [] }), false);
  assert.equal(core.isTierSnapshot({ type: 'snapshot', series: [
    { host: 'a', metric: 'm', ts: [0], y: [2], min: [1], max: [3], res: 10000 }] }), true);
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

test('snapshotUrl carries the subscription as JSON under the Dash prefix', () => {
  const sub = { window: 900, res: 10, metrics: ['cpu.*'] };
  const url = core.snapshotUrl('/tools/metrics/', sub);
  assert.ok(url.startsWith('/tools/metrics/snapshot?sub='), url);
  assert.deepEqual(JSON.parse(decodeURIComponent(url.split('?sub=')[1])), sub);
  assert.ok(!/[&#\s]/.test(url.split('?')[1].slice(4)), 'the JSON is escaped');
  assert.equal(core.snapshotUrl('x', {}), '/x/snapshot?sub=' + encodeURIComponent('{}'));
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
  assert.equal(core.connectionLabel(true, { kafka: 'connected' }, 0, { silentMs: 1000 }).state, 'live');
  const silent = core.connectionLabel(true, { kafka: 'connected' }, 0, { silentMs: 7400, silentAfterMs: 5000 });
  assert.deepEqual([silent.state, silent.text], ['stale', 'stale: no update for 7 s']);
  assert.equal(core.connectionLabel(false, { kafka: 'connected' }, 2).state, 'reconnecting');
  assert.equal(core.connectionLabel(true, { kafka: 'connected', backfill: 0.637 }, 0).text, 'backfilling 63 %');
  assert.equal(core.connectionLabel(false, null, 3).text, 'reconnecting in 3 s');
  assert.equal(core.connectionLabel(true, { kafka: 'disconnected' }, 0).text, 'stale: Kafka unreachable');
  assert.equal(core.connectionLabel(true, null, 0).text, 'connecting to Kafka');
});

test('subscription from the page URL: metrics and rate go to the relay, hosts are picked on the page', () => {
  assert.deepEqual(core.subscriptionFromQuery('?hosts=web-*,db-1&metrics=cpu.*,mem.*&interval=2'),
    { metrics: ['cpu.*', 'mem.*'], interval: 2 });
  assert.deepEqual(core.subscriptionFromQuery('?renderer=plotly&interval=-1'), {});
});

test('stale age comes from the relay status', () => {
  assert.equal(core.staleAge({ stale: { quiet: 12 } }, 'quiet'), 12);
  assert.equal(core.staleAge({ stale: { quiet: 12 } }, 'busy'), null);
  assert.equal(core.staleAge(null, 'x'), null);
});

test('extendPayload bounds each trace to its buffer and carries hover text', () => {
  const appended = new Map([['a', [{ x: 1, y: 2 }]], ['b', [{ x: 5, y: 6 }, { x: 6, y: 7 }]]]);
  const idx = new Map([['a', 3], ['b', 0]]);
  const bounds = { a: 10, b: 20 };
  const payload = core.extendPayload(appended, idx, (k) => bounds[k], (k, p) => k + '=' + p.y);
  assert.deepEqual(payload, [{ x: [[1], [5, 6]], y: [[2], [6, 7]], text: [['a=2'], ['b=6', 'b=7']] }, [3, 0], [10, 20]]);
});

test('buffers trim by wall-clock age for the window, and follow a window change', () => {
  const m = new core.Model({ maxAgeMs: 60000 });
  m.apply(snapshot(1, [s('h', 'cpu.percent', [0, 30000, 60000, 90000])]));
  // appended points are trimmed relative to the newest point: 0 is older than 90 s − 60 s
  assert.deepEqual(m.series.get(core.seriesKey('h', 'cpu.percent')).buffer.points.map((p) => p.x), [30000, 60000, 90000]);
  assert.deepEqual(m.trim(125000), [core.seriesKey('h', 'cpu.percent')]); // now − 60 s = 65 s
  assert.deepEqual(m.series.get(core.seriesKey('h', 'cpu.percent')).buffer.points.map((p) => p.x), [90000]);
  assert.deepEqual(m.trim(125000), []);
  m.setWindow(10000);
  m.trim(125000);
  assert.equal(m.pointCount(), 0);
  assert.deepEqual(m.hosts(), []); // a host whose points all left the window is gone
});

test('model lists hosts with points, sorted', () => {
  const m = new core.Model({ maxAgeMs: 10 ** 9 });
  m.apply(snapshot(1, [s('web-2', 'cpu.percent', [1]), s('db-1', 'cpu.percent', [1]), s('web-2', 'mem.used_percent', [1])]));
  assert.deepEqual(m.hosts(), ['db-1', 'web-2']);
});

test('tier snapshots keep min/max; later raw samples fold into one point per bucket', () => {
  const m = new core.Model({ maxAgeMs: 10 ** 9 });
  const key = core.seriesKey('h', 'cpu.percent');
  m.apply({ type: 'snapshot', epoch: 'e', seq: 1, series: [
    { host: 'h', metric: 'cpu.percent', ts: [0, 10000], y: [5, 6], min: [1, 2], max: [9, 10], res: 10000 }] });
  const b = m.series.get(key).buffer;
  assert.equal(b.res, 10000);
  assert.deepEqual(b.points, [{ x: 0, y: 5, min: 1, max: 9, lo: 1, hi: 9 }, { x: 10000, y: 6, min: 2, max: 10, lo: 2, hi: 10 }]);
  // raw samples of the next buckets: 21 s, 23 s, 25 s (bucket 20 s), then 31 s closes that bucket
  m.apply({ type: 'data', seq: 2, prev: 1, series: [s('h', 'cpu.percent', [21000, 23000, 25000], [10, 40, 20])] });
  assert.equal(b.points.length, 5); // the bucket being filled stays raw
  // its band (lo/hi) is the running min–max of its samples: it widens as they come
  assert.deepEqual(b.points.slice(2).map((p) => [p.lo, p.hi]), [[10, 10], [10, 40], [10, 40]]);
  const out = m.apply({ type: 'data', seq: 3, prev: 2, series: [s('h', 'cpu.percent', [31000], [7])] });
  assert.ok(out.folded.has(key));
  // folded: the band at the bucket's last sample; the next bucket's band starts over
  assert.deepEqual(b.points.slice(2), [{ x: 21000, y: 70 / 3, min: 10, max: 40, lo: 10, hi: 40 },
    { x: 31000, y: 7, lo: 7, hi: 7 }]);
  assert.equal(m.apply({ type: 'data', seq: 4, prev: 3, series: [s('h', 'cpu.percent', [31000], [8])] }).appended.size, 0,
    'a sample already held is not appended again');
  // a raw snapshot (short window) turns tier mode off
  m.apply(snapshot(5, [s('h', 'cpu.percent', [40000, 41000])]));
  assert.equal(b.res, 0);
  assert.deepEqual(b.points.map((p) => p.x), [40000, 41000]);
});

test('the relay\'s snapshot without res (older server) is plain raw data', () => {
  const m = new core.Model({ maxAgeMs: 10 ** 9 });
  m.apply({ type: 'snapshot', epoch: 'e', seq: 1, series: [{ host: 'h', metric: 'm', ts: [1, 2], y: [1, 2], min: [0, 0] }] });
  assert.deepEqual(m.series.get(core.seriesKey('h', 'm')).buffer.points, [{ x: 1, y: 1 }, { x: 2, y: 2 }]);
});

test('lag meter: rolling median of arrival − newest sample time, data frames only', () => {
  const lag = new core.LagMeter(10000);
  assert.equal(lag.median(0), null);
  lag.observe(snapshot(1, [s('h', 'm', [0])]), 5000); // history, not news
  assert.equal(lag.median(5000), null);
  lag.observe(data(2, [s('h', 'm', [900, 1000]), s('g', 'm', [950])]), 1100); // 100 ms
  lag.observe(data(3, [s('h', 'm', [2000])]), 2300); // 300 ms
  lag.observe(data(4, [s('h', 'm', [3000])]), 3150); // 150 ms
  lag.observe(data(5, []), 3200); // heartbeat: nothing to measure
  assert.equal(lag.median(3200), 150);
  lag.observe(data(6, [s('h', 'm', [3000])]), 8000); // a late backlog shows, but does not stick
  assert.equal(lag.median(8000), 225);
  assert.equal(lag.median(14000), 5000); // older observations left the 10 s window
  assert.equal(lag.median(30000), null);
});

test('redraws at most once per frame, and no faster than a pixel of time moves', () => {
  assert.equal(core.redrawIntervalMs(60 * 1000, 1000), 60);
  assert.equal(core.redrawIntervalMs(15 * 60 * 1000, 900), 1000);
  assert.equal(core.redrawIntervalMs(24 * 3600 * 1000, 600), 1000); // capped: fresh points wait ≤ 1 s
  assert.equal(core.redrawIntervalMs(1000, 0), 1000);
});

test('decimation choice: off up to one point per pixel, then LTTB to one point per pixel', () => {
  assert.deepEqual(core.decimationFor(600, 600), { enabled: false });
  assert.deepEqual(core.decimationFor(900, 600), { enabled: true, algorithm: 'lttb', samples: 600, threshold: 600 });
  assert.deepEqual(core.decimationFor(3600, 1325.4), { enabled: true, algorithm: 'lttb', samples: 1325, threshold: 1325 });
  assert.equal(core.decimationFor(60, 10).enabled, true); // plot width floor of 50 px
  assert.equal(core.decimationFor(50, 10).enabled, false);
});

test('decodeFrame rejects series that are not a list', () => {
  assert.throws(() => core.decodeFrame('{"type":"data","seq":1,"series":{}}'));
});

test('freshness: a host is stale after staleAfter s without a live point, on the page clock', () => {
  const f = new core.Freshness(10);
  assert.equal(f.age('web-1', 0), null); // never heard of
  f.status({ stale: { 'db-1': 30 }, stale_after: 5 }, ['web-1', 'db-1'], 100000);
  assert.equal(f.staleAfterS, 5);
  assert.equal(f.age('db-1', 100000), 30, 'the relay\'s age seeds a host the page has not seen live');
  assert.equal(f.age('web-1', 100000), null, 'not listed by the relay: alive');
  assert.equal(f.age('web-1', 104900), null);
  assert.equal(f.age('web-1', 105000), 5, 'no status since, no point since: stale by our own clock');
  f.seen('db-1', 106000); // a live point: back
  assert.equal(f.age('db-1', 106000), null);
  assert.equal(f.age('db-1', 112000), 6);
  // a later status that does not list a host we judge stale makes it fresh again (the relay heard it)
  f.status({ stale: {}, stale_after: 5 }, ['db-1'], 113000);
  assert.equal(f.age('db-1', 113000), null);
  // …but does not reset a host the page saw recently
  f.seen('web-1', 120000);
  f.status({ stale: {}, stale_after: 5 }, ['web-1'], 124000);
  assert.equal(f.age('web-1', 125000), 5);
  f.status(null, ['web-1'], 130000); // frames without status change nothing
  assert.equal(f.age('web-1', 130000), 10);
});

test('the Plotly x axes move every second for short windows, at most every 5 s', () => {
  assert.equal(core.axisMoveMs(60 * 1000), 1000);
  assert.equal(core.axisMoveMs(5 * 60 * 1000), 2500);
  assert.equal(core.axisMoveMs(15 * 60 * 1000), 5000);
  assert.equal(core.axisMoveMs(24 * 3600 * 1000), 5000);
});

test('frameIntervalS: a quarter of the redraw interval, at most 0.25 s, nothing asked below 50 ms', () => {
  assert.equal(core.frameIntervalS(3600 * 1000, 1440), 0.25); // redraws once a second
  assert.equal(core.frameIntervalS(15 * 60 * 1000, 1440), 0.156); // 625 ms a pixel
  assert.equal(core.frameIntervalS(5 * 60 * 1000, 1440), 0.052);
  assert.equal(core.frameIntervalS(60 * 1000, 1440), 0); // 1 min: the relay's pace
  assert.equal(core.frameIntervalS(15 * 60 * 1000, 300), 0.25); // a narrow embed
});
