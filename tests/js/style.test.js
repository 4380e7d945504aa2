'use strict';
// WCAG AA contrast of the page's colours, read from assets/style.css, in both themes.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const view = require('../../assets/metrics_view.js');

const css = fs.readFileSync(path.join(__dirname, '..', '..', 'assets', 'style.css'), 'utf8');

function themeVars(selector) {
  const start = css.indexOf(selector + ' {');
  assert.ok(start >= 0, `style.css has a ${selector} block`);
  const body = css.slice(start, css.indexOf('}', start));
  const vars = {};
  for (const m of body.matchAll(/--([a-z-]+):\s*(#[0-9a-f]{6})/gi)) vars[m[1]] = m[2];
  return vars;
}

const THEMES = { light: themeVars(':root, :root[data-theme="light"]'), dark: themeVars(':root[data-theme="dark"]') };
// text colour, background colour: every pair the page draws text with
const PAIRS = [['fg', 'bg'], ['fg', 'card'], ['muted', 'bg'], ['muted', 'card'], ['control-fg', 'control'],
  ['pressed-fg', 'pressed'], ['live-fg', 'live-bg'], ['wait-fg', 'wait-bg'], ['bad-fg', 'bad-bg'], ['stale-fg', 'stale-bg']];

for (const [theme, vars] of Object.entries(THEMES)) {
  test(`${theme} theme: text passes WCAG AA (4.5:1)`, () => {
    for (const [fg, bg] of PAIRS) {
      assert.ok(vars[fg] && vars[bg], `--${fg} and --${bg} are defined`);
      const ratio = view.contrastRatio(vars[fg], vars[bg]);
      assert.ok(ratio >= 4.5, `--${fg} ${vars[fg]} on --${bg} ${vars[bg]}: ${ratio.toFixed(2)}`);
    }
  });

  test(`${theme} theme: focus ring and borders of controls are visible (3:1)`, () => {
    for (const bg of ['bg', 'card']) {
      const ratio = view.contrastRatio(vars.focus, vars[bg]);
      assert.ok(ratio >= 3, `--focus on --${bg}: ${ratio.toFixed(2)}`);
    }
  });

  test(`${theme} theme: chart colours in metrics_view.js match the page's backgrounds`, () => {
    assert.deepEqual(view.THEMES[theme].backgrounds, [vars.bg, vars.card]);
  });
}
