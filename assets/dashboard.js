/* Browser glue of the live page (namespace window.dash_clientside.metrics). Dash calls `connect` once
 * the layout is rendered; from then on the WebSocket component's frames go into the DOM-free model
 * (metrics_core.js), which hands what changed to the active renderer (metrics_chartjs.js, or the Plotly
 * fallback in metrics_plotly.js). Also the header (connection badge, end-to-end lag, host count), the
 * empty state, the view state in the URL, theme, pause and reconnects.
 *
 * Frames come through the layout's dash_extensions.WebSocket (the customer's design) and the
 * clientside callback `onSocket`. That component hands each message over in its `message` prop, and a
 * message arriving before the callback ran overwrites the previous one: the sequencer notices (seq /
 * prev, or a data frame where the answer to our hello should be) and asks for a snapshot again.
 *
 * Host and metric names come from Kafka, i.e. from anyone who can write to the topic: they only ever
 * reach the page as textContent or as chart data labels, never as HTML.
 */
(function () {
  'use strict';
  window.dash_clientside = window.dash_clientside || {};
  const ns = (window.dash_clientside.metrics = window.dash_clientside.metrics || {});

  const TICK_MS = 1000;
  const SILENT_AFTER_MS = 5000; // the relay sends a heartbeat every second; 5 s of nothing is stale

  const app = {
    model: null,
    lag: null,
    fresh: null, // which hosts are stale
    renderer: null, // 'chartjs' | 'plotly'
    renderers: {},
    selection: [],
    hidden: new Set(), // series keys toggled off in a legend
    windowId: '15m',
    windowMs: 15 * 60 * 1000,
    themeChoice: 'auto',
    theme: 'light',
    paused: false,
    awaitingWindow: false,
    pausedAt: 0,
    bufferedWhilePaused: 0,
    socketOpen: false,
    lastFrameAt: 0,
    stats: { draws: 0, frames: 0, badFrames: 0 },
    isActive: function (name) {
      return app.renderer === name;
    },
    /** The first 200 things the page did, and when (debugState, bench_page: where a load's time goes). */
    events: [],
    mark: function (what) {
      if (app.events.length < 200) app.events.push([Math.round(performance.now()), what]);
    },
  };

  const conn = { url: null, socket: null, attempt: 0, reconnectAt: 0, countdown: null, nonce: 0 };
  let controls = null;
  let shell = null; // the header's elements, once Dash has rendered the layout
  const early = []; // frames that arrived before that

  function core() {
    return ns.core;
  }

  function view() {
    return ns.view;
  }

  function active() {
    return app.renderers[app.renderer];
  }

  function text(id, value) {
    const e = shell[id];
    if (e && e.textContent !== value) e.textContent = value;
  }

  // ---------------------------------------------------------------- messages to the relay ------
  function message(type, extra) {
    conn.nonce += 1;
    return JSON.stringify(Object.assign({ type: type, n: conn.nonce }, extra || {}));
  }

  function subscription() {
    const sub = Object.assign(core().subscriptionFromQuery(window.location.search), { window: app.windowMs / 1000 });
    // no faster than the charts can use them (an `interval` in the URL wins)
    const paced = core().frameIntervalS(app.windowMs, window.innerWidth || 1280);
    if (sub.interval === undefined && paced > 0) sub.interval = paced;
    return sub;
  }

  /*
   * Snapshots arrive on a quiet subscription. The component keeps only the newest message for the
   * callback, and the relay's next data frame follows a snapshot within milliseconds (building one
   * holds its loop, so a tick is due when it is sent), while Dash takes 10–30 ms to hand a 1 MiB
   * message to the callback and hundreds for 17 MiB: the snapshot was lost on most loads, and every
   * time for 1,000 series (a new 17 MiB snapshot every 1.5 s, for minutes). So every request for a
   * snapshot (ready, subscribe, resync) carries `interval: QUIET_S` — no frame for that long after
   * it — and once the snapshot is applied the page `resume`s from its seq with its real
   * subscription: a catchup of the few ticks since, then live frames.
   */
  const QUIET_S = 4;

  function quietSubscription() {
    const sub = subscription();
    sub.interval = Math.max(QUIET_S, sub.interval || 0);
    return sub;
  }

  /*
   * First paint of a big view. 15 min × 1,000 series is 900k raw points, 17 MiB of JSON and ~0.7 s
   * of Chart.js work before anything shows. A fresh page (nothing to resume) therefore asks for 10 s
   * buckets (a tenth of the points, drawn as mean lines without their band) when the raw window would
   * hold more than COARSE.res_over points, draws them, and only then asks for the raw window, which
   * replaces them a second or so later. Small views are answered raw at once (the relay decides: it
   * knows the count).
   */
  const COARSE = { res: 10, res_over: 200000, minWindowS: 600, maxWindowS: 900 };

  function coarseFirst() {
    const s = app.windowMs / 1000;
    return s >= COARSE.minWindowS && s <= COARSE.maxWindowS;
  }

  /** What a fresh page asks its first snapshot for: quiet, and buckets first for a big view. */
  function firstSubscription() {
    return Object.assign(quietSubscription(), coarseFirst() ? { res: COARSE.res, res_over: COARSE.res_over } : {});
  }

  /*
   * The first snapshot over HTTP. The socket opens only once Dash has fetched and rendered its
   * layout (~0.4 s into a load), and the relay then needs ~0.1 s to build and deflate a snapshot. So
   * boot fetches the same first snapshot from `<prefix>snapshot` (docs/protocol.md), which the relay
   * builds while Dash still loads. The socket's hello goes on from it (the raw window after buckets,
   * else a resume), waiting for it if the socket opens first; if the fetch fails (or takes longer
   * than PREFETCH_WAIT_MS) the hello asks for the first snapshot itself, as without the fetch.
   */
  let prefetch = null; // {abort: AbortController, used, settled, then: what to do once settled}
  const PREFETCH_WAIT_MS = 5000; // a socket that opens first waits this long for the fetch

  function prefetchSnapshot(prefix) {
    if (typeof window.fetch !== 'function' || typeof window.AbortController !== 'function') return;
    const mine = { abort: new window.AbortController(), used: false, settled: false, then: null };
    prefetch = mine;
    const settle = function (text) {
      if (prefetch !== mine || mine.settled) return;
      mine.settled = true;
      if (text) {
        mine.used = true;
        app.mark('snapshot fetched');
        app.coarseAsked = coarseFirst();
        app.quiet = true;
        if (shell) onFrame(text);
        else early.push(text);
      }
      if (mine.then) mine.then(); // the socket opened meanwhile: its hello, now
    };
    window.fetch(core().snapshotUrl(prefix, firstSubscription()), { signal: mine.abort.signal, credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(settle, function () { settle(null); }); // aborted, or no relay: the socket's hello asks
  }

  /**
   * The socket is open. If the first snapshot is still on its way over HTTP, its hello waits for it
   * (asking the socket for the same snapshot would only start the relay's work again), at most
   * PREFETCH_WAIT_MS; returns the hello to send now, or no_update.
   */
  function helloWhenFetched() {
    const p = prefetch;
    if (!p || p.settled) return hello();
    const timer = setTimeout(function () { p.abort.abort(); }, PREFETCH_WAIT_MS); // then settles it
    p.then = function () {
      clearTimeout(timer);
      if (app.socketOpen) sendNow(hello());
    };
    return window.dash_clientside.no_update;
  }

  /** On every (re)connect: resume from what we have, or start fresh, quietly. */
  function hello() {
    const q = app.model.sequencer;
    if (prefetch && !prefetch.used) prefetch.abort.abort();
    prefetch = null;
    if (app.rawPending) {
      // buckets fetched and drawn: the raw window now (quiet), then live frames
      app.rawPending = false;
      app.coarseAsked = false;
      app.quiet = true;
      q.reset('hello');
      app.stats.snapshotsAsked = (app.stats.snapshotsAsked || 0) + 1;
      app.mark('raw window asked');
      return message('ready', quietSubscription());
    }
    app.coarseAsked = !q.canResume() && coarseFirst();
    const text = q.canResume()
      ? message('resume', Object.assign({ epoch: q.epoch, seq: q.last }, quietSubscription()))
      : message('ready', firstSubscription());
    app.quiet = true;
    q.reset('hello'); // a data frame before the answer means the answer was lost: ask again at once
    return text;
  }

  // Through the dash_extensions.WebSocket component: it sends whenever its `send` prop changes (every
  // message carries a fresh nonce). Two set_props in one render would overwrite each other like
  // incoming frames do, so messages leave one at a time, 100 ms apart (they are rare: a subscribe,
  // a resync).
  const outbox = [];
  let flushing = false;

  function flushOutbox() {
    const text = outbox.shift();
    if (text === undefined || !app.socketOpen) {
      flushing = false;
      outbox.length = 0;
      return;
    }
    flushing = true;
    window.dash_clientside.set_props('ws', { send: text });
    setTimeout(flushOutbox, 100);
  }

  /* A lost answer to subscribe/resync/resume would go unnoticed (the next data frames still chain
   * on), so after asking, data is ignored until the answer comes (metrics_core.js Sequencer), and the
   * question is asked again when it does not come in time. */
  let answerTimer = null;

  function armRetry(ms) {
    if (answerTimer) clearTimeout(answerTimer);
    answerTimer = setTimeout(function () {
      answerTimer = null;
      if (app.socketOpen && app.model.sequencer.awaiting) ask(app.model.sequencer.canResume() ? 'resume' : 'snapshot', true);
    }, ms);
  }

  /**
   * 'snapshot': subscribe quietly (answered with a snapshot; the buffers start over from it);
   * 'resume': everything after our last seq (a catchup, small) and live frames from then on; with
   * `quiet`, the catchup alone (nothing overwrites it), then a live resume once it is applied.
   */
  function ask(what, quiet) {
    const q = app.model.sequencer;
    if (what === 'resume' && q.canResume()) {
      sendNow(message('resume', Object.assign({ epoch: q.epoch, seq: q.last },
        quiet ? quietSubscription() : subscription())));
      app.stats.resumes = (app.stats.resumes || 0) + 1;
      // From a quiet subscription nothing is in flight, and the relay replaces its queue for us with
      // the catchup, so a data frame before the catchup means it was lost: resume again at once.
      // From a live one, frames sent before the relay read us may still come first.
      q.reset(app.quiet ? 'hello' : 'resume');
      app.quiet = !!quiet;
      armRetry(quiet ? QUIET_S * 1000 + 2000 : 1500);
    } else {
      sendNow(message('subscribe', quietSubscription()));
      app.stats.snapshotsAsked = (app.stats.snapshotsAsked || 0) + 1;
      app.quiet = true;
      q.reset('snapshot');
      armRetry(QUIET_S * 1000 + 2000); // a 17 MiB snapshot takes the relay a second or more
    }
  }

  function sendNow(text) {
    if (!app.socketOpen) return;
    outbox.push(text);
    if (!flushing) flushOutbox();
  }

  // ---------------------------------------------------------------- view state -----------------
  function writeUrl() {
    const query = view().queryFromViewState({
      hosts: app.selection, window: app.windowId, renderer: app.renderer, theme: app.themeChoice,
    }, window.location.search);
    const url = window.location.pathname + query + window.location.hash;
    if (url !== window.location.pathname + window.location.search + window.location.hash) {
      window.history.replaceState(window.history.state, '', url);
    }
  }

  const darkQuery = window.matchMedia ? window.matchMedia('(prefers-color-scheme: dark)') : null;

  function applyTheme() {
    const theme = view().resolveTheme(app.themeChoice, darkQuery && darkQuery.matches);
    document.documentElement.dataset.theme = theme;
    document.documentElement.dataset.themeChoice = app.themeChoice;
    if (theme !== app.theme) {
      app.theme = theme;
      if (active()) active().setTheme();
    }
  }

  function renderer(name) {
    if (!app.renderers[name]) app.renderers[name] = ns[name].create(app);
    return app.renderers[name];
  }

  function setRenderer(name) {
    if (name === 'chartjs' && typeof window.Chart === 'undefined') name = 'plotly';
    const previous = app.renderer;
    app.renderer = name;
    document.body.dataset.renderer = name; // style.css shows the active renderer's root only
    const r = renderer(name);
    r.show(true);
    if (previous !== name || previous === null) r.reset();
  }

  const handlers = {
    window: function (id) {
      const w = view().windowById(id);
      if (!w || id === app.windowId) return;
      app.windowId = id;
      app.windowMs = w.seconds * 1000;
      app.model.setWindow(app.windowMs);
      app.model.trim(Date.now());
      active().reset();
      app.awaitingWindow = true; // its snapshot is drawn even while paused: the user asked for it
      ask('snapshot'); // answered with a snapshot of the new window
      after();
    },
    pause: function (paused) {
      if (paused === app.paused) return;
      app.paused = paused;
      if (paused) {
        app.pausedAt = Date.now();
        app.bufferedWhilePaused = 0;
        active().pause();
      } else {
        app.model.trim(Date.now());
        active().resume();
      }
      after();
    },
    renderer: function (name) {
      if (name === app.renderer) return;
      setRenderer(name);
      after();
    },
    theme: function (choice) {
      app.themeChoice = choice;
      applyTheme();
      after();
    },
    hosts: function (selection) {
      app.selection = selection;
      active().reset();
      after();
    },
  };

  function after() {
    writeUrl();
    if (controls) controls.refresh();
    refreshHeader(Date.now());
  }

  // ---------------------------------------------------------------- header ---------------------
  function badge(now, reconnectInS) {
    if (!shell) return;
    const silentMs = app.socketOpen && app.lastFrameAt ? now - app.lastFrameAt : undefined;
    const label = core().connectionLabel(app.socketOpen, app.model.status, reconnectInS || 0,
      { silentMs: silentMs, silentAfterMs: SILENT_AFTER_MS });
    text('badge', label.text);
    if (shell.badge.className !== label.cls) shell.badge.className = label.cls;
    shell.badge.dataset.state = label.state;
  }

  let lastHosts = '';

  function refreshHeader(now) {
    if (!conn.countdown) badge(now);
    text('lag', view().lagText(app.lag.median(now)));
    const hosts = app.model.hosts();
    const key = hosts.join('\u0000');
    if (key !== lastHosts) {
      lastHosts = key;
      if (controls) controls.setHosts(hosts);
    }
    let shownHosts = 0;
    for (const h of hosts) if (view().hostSelected(app.selection, h)) shownHosts += 1;
    text('hosts', app.selection.length
      ? shownHosts + ' of ' + hosts.length + ' hosts'
      : hosts.length + (hosts.length === 1 ? ' host' : ' hosts'));
    text('paused', app.paused
      ? 'Paused at ' + new Date(app.pausedAt).toLocaleTimeString() + ' — ' + app.bufferedWhilePaused +
        ' new points buffered; Resume draws them.'
      : '');
    const w = view().windowById(app.windowId);
    const empty = view().emptyState({
      connected: app.socketOpen || app.model.frames > 0,
      status: app.model.status,
      topic: shell.empty.dataset.topic,
      servers: shell.empty.dataset.servers,
      knownHosts: hosts.length,
      shownSeries: shownHosts,
      selection: app.selection,
      window: w ? w.label : app.windowId,
    });
    text('empty', empty || '');
    shell.empty.hidden = !empty;
  }

  /** Grey the series of hosts not heard from for a while; restore them when back. */
  function applyStale(now) {
    const changed = [];
    for (const s of app.model.series.values()) {
      const age = app.fresh.age(s.host, now);
      const was = s.staleAge !== null && s.staleAge !== undefined;
      s.staleAge = age;
      if (was !== (age !== null)) changed.push(s.key);
    }
    if (changed.length && !app.paused) active().restyle(changed);
  }

  function tick() {
    const now = Date.now();
    applyStale(now);
    if (!app.paused) {
      const trimmed = app.model.trim(now);
      if (trimmed.length) active().trimmed(trimmed);
      active().refreshLegends();
      active().kick(); // a Plotly payload held back while the previous one was in flight
    }
    refreshHeader(now);
  }

  // ---------------------------------------------------------------- the socket ---------------
  /** Points the dash_extensions.WebSocket component at the relay; a new URL makes it open a new
   * socket (it never reconnects by itself). */
  function open() {
    conn.opens = (conn.opens || 0) + 1;
    window.dash_clientside.set_props('ws', { url: conn.url + '?c=' + conn.opens });
  }

  function onOpen() {
    app.stats.openAt = app.stats.openAt || performance.now();
    app.mark('socket open');
    app.socketOpen = true;
    app.lastFrameAt = Date.now();
    conn.attempt = 0;
    if (shell) refreshHeader(Date.now());
    return helloWhenFetched(); // nothing is sent to us before this
  }

  function onClose() {
    if (!app.socketOpen && conn.countdown) return;
    app.socketOpen = false;
    scheduleReconnect();
  }

  /**
   * Dash records every change of a callback Input in its undo history (store.history.past), which
   * nothing bounds: with ws.message as an Input that is every frame the page ever received (~10 a
   * second, a 17 MiB snapshot included) kept alive, and the list copied on each frame. The page has
   * no undo button, so the history is emptied in place every HISTORY_KEEP frames.
   */
  const HISTORY_KEEP = 50;

  function pruneDashHistory() {
    const store = window.store;
    const h = store && store.getState && store.getState().history;
    if (h && Array.isArray(h.past) && h.past.length > HISTORY_KEEP) h.past.splice(0, h.past.length);
  }

  /** The clientside callback of the WebSocket component: Input ws.message, Input ws.state → ws.send. */
  ns.onSocket = function (message, wsState) {
    const noUpdate = window.dash_clientside.no_update;
    pruneDashHistory();
    if (!app.model) return noUpdate;
    const triggered = (window.dash_clientside.callback_context.triggered || []).map(function (t) {
      return t.prop_id;
    });
    let out = noUpdate;
    if (triggered.indexOf('ws.state') >= 0 && wsState) {
      if (wsState.readyState === 1) out = onOpen();
      else if (wsState.readyState === 3 && conn.opens) onClose();
    }
    if (triggered.indexOf('ws.message') >= 0 && message && typeof message.data === 'string') {
      app.stats.firstFrameAt = app.stats.firstFrameAt || performance.now();
      if (shell) onFrame(message.data);
      else early.push(message.data);
    }
    return out;
  };

  function scheduleReconnect() {
    if (conn.countdown) return;
    const delay = core().backoffMs(conn.attempt);
    conn.attempt += 1;
    conn.reconnectAt = Date.now() + delay;
    const step = function () {
      const left = conn.reconnectAt - Date.now();
      if (left <= 0) {
        clearInterval(conn.countdown);
        conn.countdown = null;
        badge(Date.now());
        open();
        return;
      }
      badge(Date.now(), Math.ceil(left / 1000));
    };
    conn.countdown = setInterval(step, 250);
    step();
  }

  function onFrame(data) {
    const now = Date.now();
    let frame = null;
    if (data.length > 100000) app.mark('frame in callback, ' + data.length + ' bytes');
    try {
      frame = core().decodeFrame(data);
    } catch (err) {
      app.stats.badFrames += 1;
      console.warn('metrics: bad frame ignored', err);
      return;
    }
    if (frame.type === 'error') console.warn('metrics: server says', frame.error);
    app.lastFrameAt = now;
    app.stats.frames += 1;
    app.lag.observe(frame, now);
    // A snapshot of buckets for the quick first paint is drawn as mean lines only (no band); the
    // next snapshot (the raw window, or any other) ends that.
    if (frame.type === 'snapshot') app.preview = app.coarseAsked && app.quiet && core().isTierSnapshot(frame);
    const result = app.model.apply(frame);
    if (result.reset) app.mark(frame.type + ' applied');
    const asked = result.reset && app.awaitingWindow;
    if (result.reset) {
      // the first complete draw of the page, whatever its resolution (bench_page's "first paint")
      if (app.stats.fullDrawAt && !app.stats.firstPaintAt) app.stats.firstPaintAt = app.stats.fullDrawAt;
      app.stats.snapshotAt = performance.now();
      app.stats.fullDrawAt = null; // set by the renderer's first complete draw after this
    }
    if (result.reset) app.awaitingWindow = false;
    if (result.action === 'apply') app.resumesLost = 0;
    if (result.action === 'resync') ask('snapshot');
    else if (result.action === 'resume') {
      // A frame was skipped: a live resume. When its answer is lost too (a catchup is followed by
      // data frames within 50 ms, and a page busy drawing 1,000 series for longer lets the component
      // overwrite it; a refused resume's snapshot likewise), resume quietly: the answer comes alone.
      app.resumesLost = (app.resumesLost || 0) + 1;
      ask('resume', app.resumesLost > 1);
    }
    let resumeLive = false;
    if (app.quiet && (frame.type === 'snapshot' || frame.type === 'catchup') && result.action === 'apply') {
      const coarse = frame.type === 'snapshot' && app.preview; // the buckets asked for on hello
      app.coarseAsked = false;
      // buckets for a quick first paint: the raw window next (still quiet), then live frames
      if (coarse && coarseFirst()) {
        if (app.socketOpen && !prefetch) {
          app.mark('buckets applied: raw window asked');
          ask('snapshot');
        } else {
          app.rawPending = true; // fetched over HTTP: the socket's hello (sent or waiting) asks for it
        }
      }
      else resumeLive = true; // the answer on the quiet subscription is in: live frames from here
    }
    if (frame.type !== 'snapshot') {
      for (const key of result.appended.keys()) app.fresh.seen(app.model.series.get(key).host, now);
    }
    if (frame.status) app.fresh.status(frame.status, app.model.hosts(), now);
    if (result.reset || result.created.length || result.appended.size) {
      if (app.paused && asked) {
        active().reset();
      } else if (app.paused) {
        for (const pts of result.appended.values()) app.bufferedWhilePaused += pts.length;
      } else {
        active().update(result);
      }
    }
    if (frame.status || result.appended.size) applyStale(now);
    if (result.reset || result.created.length || frame.status) refreshHeader(now);
    if (resumeLive) whenDrawn(resumeIfStillQuiet);
  }

  /* Live frames follow a catchup within 50 ms; asked for while the renderer still has to draw what
   * was just applied (~1 s for 1,000 series, in slices), the catchup would be overwritten before the
   * callback saw it, again and again. So the live resume goes out once the renderer has nothing
   * left to draw (checked after each animation frame; at most 3 s; a hidden tab runs no animation
   * frames, so a timer stands in). */
  const DRAWN_WAIT_MS = 3000;

  function whenDrawn(fn) {
    const until = performance.now() + DRAWN_WAIT_MS;
    let done = false;
    const go = function () {
      if (!done) {
        done = true;
        fn();
      }
    };
    const check = function () {
      if (done) return;
      const r = active();
      if (!r || r.idle() || performance.now() > until) go();
      else window.requestAnimationFrame(function () { window.setTimeout(check, 0); });
    };
    window.requestAnimationFrame(function () { window.setTimeout(check, 0); });
    window.setTimeout(go, DRAWN_WAIT_MS + 500);
  }

  function resumeIfStillQuiet() {
    // not if something else was asked meanwhile (a window switch, a reconnect)
    if (app.socketOpen && app.quiet && !app.model.sequencer.awaiting) ask('resume');
  }

  // ---------------------------------------------------------------- start ----------------------
  /**
   * As soon as this file, metrics_core.js and metrics_view.js have run (Dash loads assets in name
   * order; whichever comes last calls this): the model, and the fetch of the first snapshot — so it
   * travels while Dash still loads and renders its layout. It waits in `early` until `connect`.
   */
  function boot() {
    if (app.model || !ns.core || !ns.view) return;
    const config = JSON.parse(document.getElementById('_dash-config').textContent);
    conn.url = core().wsUrl(window.location, config.requests_pathname_prefix);
    const state = view().viewStateFromQuery(window.location.search);
    app.view = state;
    app.selection = state.hosts;
    app.windowId = state.window;
    app.windowMs = view().windowById(state.window).seconds * 1000;
    app.themeChoice = state.theme;
    app.model = new (core().Model)({ maxAgeMs: app.windowMs });
    app.lag = new (core().LagMeter)();
    app.fresh = new (core().Freshness)();
    app.stats.bootAt = performance.now();
    prefetchSnapshot(config.requests_pathname_prefix);
  }

  ns._boot = boot;

  /** Called once by Dash when the layout is on the page; returns the socket URL (for the record). */
  ns.connect = function () {
    if (shell) return window.dash_clientside.no_update;
    boot();
    app.mark('connect');
    app.stats.connectAt = performance.now();
    shell = {
      badge: document.getElementById('conn-state'),
      lag: document.getElementById('lag'),
      hosts: document.getElementById('host-count'),
      empty: document.getElementById('empty-state'),
      paused: document.getElementById('paused-note'),
    };
    applyTheme();
    if (darkQuery) {
      darkQuery.addEventListener('change', function () { applyTheme(); });
    }
    controls = ns.controls.install(app, handlers);
    if (typeof window.Chart === 'undefined') controls.disableRenderer('chartjs', 'Chart.js did not load');
    setRenderer(app.view.renderer);
    writeUrl(); // the fallback renderer, if it was forced, shows in the URL
    controls.refresh();
    document.addEventListener('visibilitychange', function () {
      if (!document.hidden && active()) active().kick();
    });
    setInterval(tick, TICK_MS);
    const queued = early.splice(0, early.length);
    for (const data of queued) onFrame(data);
    refreshHeader(Date.now());
    open(); // the component exists now that the layout is on the page
    return conn.url;
  };

  /**
   * For bench/bench_page.py, which asks every 50 ms while the page draws: how many series hold at
   * least `minPoints` points and when the first complete draw ended. Cheap, unlike debugState,
   * which lists every series and every drawn dataset.
   */
  ns.drawnState = function (minPoints) {
    const m = app.model;
    if (!m) return null;
    let full = 0;
    let points = 0;
    for (const s of m.series.values()) {
      const n = s.buffer.points.length;
      points += n;
      if (n >= minPoints) full += 1;
    }
    return { full: full, points: points, fullDrawAt: app.stats.fullDrawAt || null,
      firstPaintAt: app.stats.firstPaintAt || app.stats.fullDrawAt || null,
      snapshotAt: app.stats.snapshotAt || null, connectAt: app.stats.connectAt || null,
      timeline: { boot: app.stats.bootAt, open: app.stats.openAt, firstFrame: app.stats.firstFrameAt,
        events: app.events.slice() },
      resumes: app.stats.resumes || 0, snapshotsAsked: app.stats.snapshotsAsked || 0 };
  };

  /** For tests and for debugging from the console. */
  ns.debugState = function () {
    const m = app.model;
    if (!m) return null; // before Dash called connect
    return {
      renderer: app.renderer,
      socketOpen: app.socketOpen,
      seq: m.sequencer.last,
      gaps: m.sequencer.gaps,
      resumes: app.stats.resumes || 0,
      snapshotsAsked: app.stats.snapshotsAsked || 0,
      badFrames: app.stats.badFrames,
      frames: app.stats.frames,
      draws: app.stats.draws,
      drawMs: app.stats.drawMs || 0,
      lastDrawAt: app.stats.lastDrawAt || null,
      snapshotAt: app.stats.snapshotAt || null,
      fullDrawAt: app.stats.fullDrawAt || null,
      timeline: { boot: app.stats.bootAt, open: app.stats.openAt, firstFrame: app.stats.firstFrameAt,
        connect: app.stats.connectAt, snapshot: app.stats.snapshotAt, fullDraw: app.stats.fullDrawAt,
        firstPaint: app.stats.firstPaintAt || app.stats.fullDrawAt, events: app.events.slice() },
      idle: active() ? active().idle() : false,
      points: m.pointCount(),
      paused: app.paused,
      window: app.windowId,
      windowMs: app.windowMs,
      theme: app.theme,
      selection: app.selection.slice(),
      hosts: m.hosts(),
      lag: app.lag.median(Date.now()),
      series: Array.from(m.series.values()).map(function (s) {
        const pts = s.buffer.points;
        return { host: s.host, metric: s.metric, points: pts.length, res: s.buffer.res,
          first: pts.length ? pts[0].x : null, last: pts.length ? pts[pts.length - 1].x : null,
          stale: s.staleAge === undefined ? null : s.staleAge };
      }),
      drawn: active() ? active().inspect() : [],
    };
  };
  boot(); // if metrics_core.js and metrics_view.js ran already; otherwise the later of them calls it
}());
