'use strict';
// Things that can drift apart across languages: the window buttons in dash_app/layout.py and
// WINDOWS in metrics_view.js, and the URL parameters documented in docs/page.md.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const view = require('../../assets/metrics_view.js');

const ROOT = path.join(__dirname, '..', '..');
const read = (p) => fs.readFileSync(path.join(ROOT, p), 'utf8');

test('the layout has one button per window, with the ids and labels the page uses', () => {
  const layout = read('dash_app/layout.py');
  const m = /^WINDOWS = \((.*)\)$/m.exec(layout);
  assert.ok(m, 'layout.py defines WINDOWS on one line');
  const pairs = Array.from(m[1].matchAll(/\("([^"]+)", "([^"]+)"\)/g)).map((x) => [x[1], x[2]]);
  assert.deepEqual(pairs, view.WINDOWS.map((w) => [w.id, w.label]));
});

test('docs/page.md documents every URL parameter with its values and default', () => {
  const doc = read('docs/page.md');
  const row = (name) => {
    const r = new RegExp('^\\| `' + name + '` +\\|(.*)$', 'm').exec(doc);
    assert.ok(r, `docs/page.md has a row for ${name}`);
    return r[1];
  };
  const windows = row('window');
  for (const w of view.WINDOWS) assert.ok(windows.includes('`' + w.id + '`'), `window ${w.id} documented`);
  assert.ok(windows.includes('| `' + view.DEFAULTS.window + '` |'), 'default window documented');
  assert.ok(row('renderer').includes('| `' + view.DEFAULTS.renderer + '` |'));
  assert.ok(row('theme').includes('| `' + view.DEFAULTS.theme + '` |'));
  for (const name of ['hosts', 'metrics', 'interval']) row(name);
  // and the page reads exactly these view parameters
  assert.deepEqual(Object.keys(view.viewStateFromQuery('')).sort(), ['hosts', 'renderer', 'theme', 'window']);
});
