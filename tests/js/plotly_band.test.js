'use strict';
// The Plotly fallback's live min–max band (issue #5): core.bandTail, DOM-free, run with `node --test tests/js/`.
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

test('buckets are their own min and max; live samples get the running min–max of their bucket', () => {
  const b = tierBuffer();
  b.append([20000, 21000, 22000, 23000], [50, 30, 80, 60]);
  const band = core.bandTail(b.points, RES, b.points.length);
  assert.deepEqual(band.lo, [40, 55, 50, 30, 30, 30]);
  assert.deepEqual(band.hi, [70, 65, 50, 50, 80, 80]);
});

test('a later bucket starts a new run, and a tier point breaks a run of its own bucket', () => {
  // the relay's last bucket may be the one live samples fall into: they fold apart from it
  const pts = [{ x: 0, y: 5, min: 1, max: 9 }, { x: 2000, y: 20 }, { x: 9000, y: 10 }, { x: 10000, y: 40 },
    { x: 15000, y: 30 }];
  const band = core.bandTail(pts, RES, pts.length);
  assert.deepEqual(band.lo, [1, 20, 10, 40, 30]);
  assert.deepEqual(band.hi, [9, 20, 20, 40, 40]);
});

test('the tail alone is what the whole band holds there: a payload extends the band without changing it', () => {
  const b = tierBuffer();
  const ys = [50, 30, 80, 60, 10, 90, 45, 55, 20, 70, 65, 35];
  const whole = [];
  for (let i = 0; i < ys.length; i++) {
    const before = b.points.length;
    b.append([20000 + i * 3000], [ys[i]]);
    const folded = b.points.length !== before + 1;
    if (folded) continue; // a folded bucket: the renderer redraws everything (rebuild)
    const tail = core.bandTail(b.points, RES, 1);
    const all = core.bandTail(b.points, RES, b.points.length);
    assert.deepEqual([tail.lo[0], tail.hi[0]], [all.lo[all.lo.length - 1], all.hi[all.hi.length - 1]]);
    whole.push(tail);
  }
  assert.ok(whole.length >= 6);
  // three points at once, as a payload holding several frames' samples
  const all = core.bandTail(b.points, RES, b.points.length);
  const three = core.bandTail(b.points, RES, 3);
  assert.deepEqual(three.lo, all.lo.slice(-3));
  assert.deepEqual(three.hi, all.hi.slice(-3));
});

test('at the last sample of a bucket the band is what the buffer folds the bucket into', () => {
  const b = tierBuffer();
  b.append([20000, 23000, 26000, 29000], [50, 30, 80, 60]);
  const live = core.bandTail(b.points, RES, 1);
  assert.deepEqual([live.lo[0], live.hi[0]], [30, 80]);
  b.append([30000], [10]); // the next bucket closes this one
  const bucket = b.points[b.points.length - 2];
  assert.deepEqual([bucket.x, bucket.min, bucket.max], [20000, 30, 80]);
  const after = core.bandTail(b.points, RES, b.points.length);
  assert.deepEqual(after.lo.slice(-2), [30, 10]);
  assert.deepEqual(after.hi.slice(-2), [80, 10]);
});

test('n beyond the buffer or zero, and raw (res 0) series', () => {
  const b = tierBuffer();
  assert.deepEqual(core.bandTail(b.points, RES, 99), { lo: [40, 55], hi: [70, 65] });
  assert.deepEqual(core.bandTail(b.points, RES, 0), { lo: [], hi: [] });
  assert.deepEqual(core.bandTail([{ x: 1, y: 3 }, { x: 2, y: 7 }], 0, 2), { lo: [3, 7], hi: [3, 7] });
});
