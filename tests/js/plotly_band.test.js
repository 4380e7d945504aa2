'use strict';
// The live min–max band of long windows (issue #5), as both renderers draw it: the `lo`/`hi` that
// core.SeriesBuffer gives each point. DOM-free, run with `node --test tests/js/`.
const test = require('node:test');
const assert = require('node:assert/strict');
const core = require('../../assets/metrics_core.js');

const RES = 10000;

/** A buffer as after a 1 h snapshot: two buckets from the relay, then live raw samples. */
function tierBuffer() {
  const b = new core.SeriesBuffer(1000, 3600 * 1000);
  b.res = RES;
  b.append([0, RES], [50, 60], [40, 55], [70, 65]);
  return b;
}

const lo = (pts) => pts.map((q) => q.lo);
const hi = (pts) => pts.map((q) => q.hi);

test('buckets are their own min and max; live samples get the running min–max of their bucket', () => {
  const b = tierBuffer();
  b.append([20000, 21000, 22000, 23000], [50, 30, 80, 60]);
  assert.deepEqual(lo(b.points), [40, 55, 50, 30, 30, 30]);
  assert.deepEqual(hi(b.points), [70, 65, 50, 50, 80, 80]);
});

test('a later bucket starts a new run, and a tier point breaks a run of its own bucket', () => {
  // the relay's last bucket may be the one live samples fall into: they fold apart from it
  const b = new core.SeriesBuffer(1000, 3600 * 1000);
  b.res = RES;
  b.append([0], [5], [1], [9]);
  b.append([2000, 9000], [20, 10]);
  assert.deepEqual(lo(b.points), [1, 20, 10]);
  assert.deepEqual(hi(b.points), [9, 20, 20]);
  b.append([10000, 15000], [40, 30]); // 10 s closes the run of 2 s and 9 s
  assert.deepEqual(lo(b.points).slice(-2), [40, 30]);
  assert.deepEqual(hi(b.points).slice(-2), [40, 40]);
});

test('appending never changes the band of earlier points: a payload extends the band as it is', () => {
  const b = tierBuffer();
  const ys = [50, 30, 80, 60, 10, 90, 45, 55, 20, 70, 65, 35];
  const seen = [];
  for (let i = 0; i < ys.length; i++) {
    const before = b.points.length;
    b.append([20000 + i * 3000], [ys[i]]);
    const folded = b.points.length !== before + 1;
    if (folded) continue; // a folded bucket: the renderer redraws everything (rebuild)
    const last = b.points[b.points.length - 1];
    seen.push([last, last.lo, last.hi]);
  }
  assert.ok(seen.length >= 6);
  const lastThree = seen.slice(-3);
  for (const [q, l, h] of lastThree) assert.deepEqual([q.lo, q.hi], [l, h]);
});

test('at the last sample of a bucket the band is what the buffer folds the bucket into', () => {
  const b = tierBuffer();
  b.append([20000, 23000, 26000, 29000], [50, 30, 80, 60]);
  const live = b.points[b.points.length - 1];
  assert.deepEqual([live.lo, live.hi], [30, 80]);
  b.append([30000], [10]); // the next bucket closes this one
  const bucket = b.points[b.points.length - 2];
  assert.deepEqual([bucket.x, bucket.min, bucket.max], [20000, 30, 80]);
  assert.deepEqual(lo(b.points).slice(-2), [30, 10]);
  assert.deepEqual(hi(b.points).slice(-2), [80, 10]);
});

test('buckets from the relay only, and raw (res 0) series have no band', () => {
  const b = tierBuffer();
  assert.deepEqual({ lo: lo(b.points), hi: hi(b.points) }, { lo: [40, 55], hi: [70, 65] });
  const raw = new core.SeriesBuffer(1000, 3600 * 1000);
  raw.append([1, 2], [3, 7]);
  assert.deepEqual(raw.points, [{ x: 1, y: 3 }, { x: 2, y: 7 }]);
});
