/* The page's controls (window.dash_clientside.metrics.controls): host picker, window, pause,
 * renderer and theme. Dash renders the static shell (dash_app/layout.py); this wires it with plain DOM
 * listeners — no server round trip — and keeps aria-pressed / aria-checked in step with the state.
 * The host list is built here from names that come from Kafka: textContent only.
 */
(function () {
  'use strict';
  window.dash_clientside = window.dash_clientside || {};
  const ns = (window.dash_clientside.metrics = window.dash_clientside.metrics || {});

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /**
   * @param app the page state (selection, window, renderer, theme, paused)
   * @param on  handlers: {window(id), pause(bool), renderer(name), theme(choice), hosts(list)}
   */
  function install(app, on) {
    const view = ns.view;
    const picker = document.getElementById('host-picker');
    const summary = document.getElementById('host-summary');
    const panel = document.getElementById('host-panel');
    const options = new Map(); // host -> {li, box}
    let known = [];

    // ---------------------------------------------------------------- host picker -------------
    const searchLabel = el('label', 'sr-only', 'Search hosts');
    searchLabel.htmlFor = 'host-search';
    const search = el('input', 'host-search');
    search.id = 'host-search';
    search.type = 'search';
    search.placeholder = 'Search hosts…';
    search.autocomplete = 'off';
    const actions = el('div', 'picker-actions');
    const allBtn = el('button', 'control', 'All hosts');
    allBtn.type = 'button';
    allBtn.id = 'hosts-all';
    const onlyBtn = el('button', 'control', 'Only matching');
    onlyBtn.type = 'button';
    onlyBtn.id = 'hosts-only-matching';
    actions.appendChild(allBtn);
    actions.appendChild(onlyBtn);
    const list = el('ul', 'host-list');
    list.id = 'host-list';
    list.setAttribute('aria-label', 'Hosts');
    const noMatch = el('p', 'picker-empty', '');
    noMatch.setAttribute('role', 'status');
    panel.appendChild(searchLabel);
    panel.appendChild(search);
    panel.appendChild(actions);
    panel.appendChild(list);
    panel.appendChild(noMatch);

    function matching() {
      return view.searchHosts(known, search.value);
    }

    function refreshPicker() {
      summary.textContent = 'Hosts: ' + view.hostSummary(app.selection, known);
      const visible = new Set(matching());
      for (const [host, o] of options) {
        o.box.checked = view.hostSelected(app.selection, host);
        o.li.hidden = !visible.has(host);
      }
      allBtn.setAttribute('aria-pressed', app.selection.length ? 'false' : 'true');
      onlyBtn.disabled = !search.value.trim() || !visible.size;
      noMatch.textContent = known.length === 0 ? 'No hosts yet.'
        : (!visible.size ? 'No host matches “' + search.value.trim() + '”.' : '');
    }

    function setHosts(hosts) {
      const same = hosts.length === known.length && hosts.every(function (h, i) { return h === known[i]; });
      known = hosts;
      if (!same) {
        const keep = new Set(hosts);
        for (const [host, o] of options) {
          if (!keep.has(host)) {
            o.li.remove();
            options.delete(host);
          }
        }
        hosts.forEach(function (host, i) {
          let o = options.get(host);
          if (!o) {
            const li = el('li', 'host-option');
            const label = el('label');
            const box = el('input');
            box.type = 'checkbox';
            box.addEventListener('change', function () { toggleHost(host, box.checked); });
            label.appendChild(box);
            label.appendChild(el('span', 'host-name', host));
            li.appendChild(label);
            o = { li: li, box: box };
            options.set(host, o);
          }
          if (list.children[i] !== o.li) list.insertBefore(o.li, list.children[i] || null);
        });
      }
      refreshPicker();
    }

    function toggleHost(host, checked) {
      let next;
      if (checked) {
        next = app.selection.concat([host]);
        if (known.every(function (h) { return view.hostSelected(next, h); })) next = [];
      } else {
        next = known.filter(function (h) { return h !== host && view.hostSelected(app.selection, h); });
        if (!next.length) {
          refreshPicker(); // the last shown host stays: an empty selection would mean "all"
          return;
        }
      }
      on.hosts(next);
    }

    search.addEventListener('input', refreshPicker);
    search.addEventListener('keydown', function (ev) {
      if (ev.key === 'Enter') {
        ev.preventDefault();
        if (!onlyBtn.disabled) onlyBtn.click();
      }
    });
    allBtn.addEventListener('click', function () { on.hosts([]); });
    onlyBtn.addEventListener('click', function () {
      const m = matching();
      if (m.length) on.hosts(m.length === known.length ? [] : m);
    });
    picker.addEventListener('keydown', function (ev) {
      if (ev.key === 'Escape' && picker.open) {
        picker.open = false;
        summary.focus();
      }
    });
    picker.addEventListener('toggle', function () {
      if (picker.open) search.focus();
    });

    // ---------------------------------------------------------------- buttons -----------------
    /** Buttons carry data-set-window="1h" etc.; the pressed one shows the current value. */
    function pressGroup(kind, value) {
      const prop = 'set' + kind.charAt(0).toUpperCase() + kind.slice(1);
      for (const b of document.querySelectorAll('[data-set-' + kind + ']')) {
        b.setAttribute('aria-pressed', b.dataset[prop] === value ? 'true' : 'false');
      }
    }

    document.getElementById('toolbar').addEventListener('click', function (ev) {
      const b = ev.target.closest('button');
      if (!b || b.disabled || b.getAttribute('aria-disabled') === 'true') return;
      if (b.dataset.setWindow) on.window(b.dataset.setWindow);
      else if (b.dataset.setRenderer) on.renderer(b.dataset.setRenderer);
      else if (b.dataset.setTheme) on.theme(b.dataset.setTheme);
      else if (b.id === 'pause') on.pause(!app.paused);
    });

    const pause = document.getElementById('pause');

    function refresh() {
      pressGroup('window', app.windowId);
      pressGroup('renderer', app.renderer);
      pressGroup('theme', app.themeChoice);
      pause.setAttribute('aria-pressed', app.paused ? 'true' : 'false');
      pause.textContent = app.paused ? 'Resume' : 'Pause';
      refreshPicker();
    }

    function disableRenderer(name, why) {
      const b = document.querySelector('[data-set-renderer="' + name + '"]');
      if (b) {
        b.setAttribute('aria-disabled', 'true');
        b.title = why;
      }
    }

    refresh();
    return { setHosts: setHosts, refresh: refresh, disableRenderer: disableRenderer };
  }

  ns.controls = { install: install };
}());
