/**
 * @fileoverview wiremeter browser UI: login, first-login password change and a
 * polling dashboard. Plain ES2020, no framework, no build step. Server strings
 * are only ever inserted with textContent (never innerHTML).
 */
'use strict';

const API = '/api/v1';
const POLL_MS = 1000;
const PLUGINS_EVERY = 10;  // Poll ticks between plugin list refreshes.
const REQUEST_TIMEOUT_MS = 8000;
const PW_CHANGE_REQUIRED = 'password change required';

const session = {gen: 0, user: ''};
const poll = {active: false, busy: false, timer: 0, count: 0};
const linkState = {data: null, dirty: false, ver: 0};

const INT_FMT = new Intl.NumberFormat('en-US', {maximumFractionDigits: 0});

/** Error raised for a failed API call; status 0 means no HTTP response. */
class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Shorthand for document.querySelector. */
const $ = (sel) => document.querySelector(sel);

/**
 * Creates an element. String children become text nodes.
 * @param {string} tag
 * @param {!Object<string, string>=} attrs 'class', 'text', 'title' or attributes.
 * @param {...(!Node|string)} children
 * @return {!HTMLElement}
 */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') {
      node.className = v;
    } else if (k === 'text') {
      node.textContent = v;
    } else {
      node.setAttribute(k, v);
    }
  }
  node.append(...children);
  return node;
}

/**
 * Calls the REST API. Resolves with the parsed JSON body (null for 204).
 * @param {string} method
 * @param {string} path Path below /api/v1.
 * @param {*=} body JSON-serialisable request body.
 * @return {!Promise<*>}
 */
async function api(method, path, body = undefined) {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), REQUEST_TIMEOUT_MS);
  const opts = {method, credentials: 'same-origin', signal: ctrl.signal,
                headers: {'Accept': 'application/json'}};
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let resp;
  let data = null;
  try {
    resp = await fetch(API + path, opts);
    if (resp.status !== 204) data = await resp.json().catch(() => null);
  } catch (e) {
    throw new ApiError(0, e.name === 'AbortError' ? 'request timed out' : 'server unreachable');
  } finally {
    clearTimeout(timer);
  }
  if (!resp.ok) {
    const msg = data && typeof data.error === 'string' && data.error;
    throw new ApiError(resp.status, msg || `HTTP ${resp.status}`);
  }
  return data;
}

// ---- Formatting -------------------------------------------------------------

/** Integer with thousands separators, or a dash when not a number. */
function fmtInt(n) {
  return Number.isFinite(n) ? INT_FMT.format(n) : '–';
}

/**
 * Formats a value with an SI prefix, e.g. 1.23 Mpps. Without a unit, a figure
 * space stands in for a missing prefix so right-aligned columns line up.
 */
function fmtSi(v, unit = '') {
  if (!Number.isFinite(v)) return '–';
  const prefixes = ['', 'k', 'M', 'G', 'T', 'P'];
  let x = v;
  let i = 0;
  while (Math.abs(x) >= 999.5 && i < prefixes.length - 1) {
    x /= 1000;
    i++;
  }
  const digits = i === 0 ? 0 : Math.abs(x) < 9.995 ? 2 : Math.abs(x) < 99.95 ? 1 : 0;
  const prefix = prefixes[i] || (unit ? '' : '\u2007');
  return `${x.toFixed(digits)}\u00a0${prefix}${unit}`;
}

/** Seconds as "3d 04:05:06". */
function fmtUptime(s) {
  if (!Number.isFinite(s)) return '–';
  const t = Math.floor(s);
  const pad = (n) => String(n).padStart(2, '0');
  const hms = `${pad(Math.floor(t / 3600) % 24)}:${pad(Math.floor(t / 60) % 60)}:${pad(t % 60)}`;
  const days = Math.floor(t / 86400);
  return days ? `${days}d ${hms}` : hms;
}

/** Link speed in Mbit/s as "10G", "100M", or "" when unknown. */
function fmtSpeed(mbps) {
  if (!Number.isFinite(mbps) || mbps <= 0) return '';
  return mbps >= 1000 ? `${mbps / 1000}G` : `${mbps}M`;
}

// ---- Small DOM helpers ------------------------------------------------------

/** Shows msg in an error element; hides the element when msg is empty. */
function setError(node, msg) {
  node.textContent = msg;
  node.hidden = !msg;
}

/** Sets textContent only when it changes. */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** A full-width placeholder table row. */
function emptyRow(cols, text) {
  return el('tr', {}, el('td', {class: 'empty', colspan: String(cols)}, text));
}

/** Rebuilds a key/value tbody from [label, value, optional class] rows. */
function renderKv(tbody, rows) {
  tbody.replaceChildren(...rows.map(([k, v, cls = '']) =>
    el('tr', {}, el('th', {scope: 'row'}, k), el('td', {class: `num ${cls}`}, v))));
}

// ---- Views ------------------------------------------------------------------

/** @param {string} name 'login', 'password' or 'dashboard'. */
function showView(name) {
  $('#login-view').hidden = name !== 'login';
  $('#pw-view').hidden = name !== 'password';
  $('#dashboard').hidden = name !== 'dashboard';
  $('#hdr-info').hidden = name !== 'dashboard';
  $('#logout').hidden = name === 'login';
  $('#user-name').textContent = name === 'login' ? '' : session.user;
}

/** Forgets all dashboard data so the next user never sees stale values. */
function clearDashboard() {
  document.querySelectorAll('[data-clear]').forEach((n) => (n.textContent = '–'));
  document.querySelectorAll('[data-clear-children]').forEach((n) => n.replaceChildren());
  $('#sys-mode').className = '';
  setError($('#banner'), '');
  setError($('#link-mode-error'), '');
  setLinkDirty(false);
  linkState.data = null;
  analysis.modules = [];
  analysis.module = '';
  closeDetail();
  $('#an-table').tHead.replaceChildren();
  document.title = 'wiremeter';
}

/** @param {string=} msg Optional message shown above the form. */
function showLogin(msg = '') {
  session.gen++;
  session.user = '';
  stopPolling();
  clearDashboard();
  showView('login');
  setError($('#login-error'), msg);
  $('#login-password').value = '';
  ($('#login-username').value ? $('#login-password') : $('#login-username')).focus();
}

function showPasswordChange() {
  session.gen++;
  stopPolling();
  showView('password');
  $('#pw-form').reset();
  setError($('#pw-error'), '');
  $('#pw-old').focus();
}

function showDashboard() {
  session.gen++;
  showView('dashboard');
  startPolling();
}

/** @param {{username: string, must_change_password: boolean}} info */
function enterSession(info) {
  session.user = info.username || '';
  if (info.must_change_password) {
    showPasswordChange();
  } else {
    showDashboard();
  }
}

/** Handles session-level errors (401, pending password change). @return {boolean} */
function handleAuthError(err) {
  if (err.status === 401) {
    showLogin('Your session has ended. Please sign in again.');
    return true;
  }
  if (err.status === 403 && err.message === PW_CHANGE_REQUIRED) {
    showPasswordChange();
    return true;
  }
  return false;
}

// ---- Auth forms -------------------------------------------------------------

async function onLogin(ev) {
  ev.preventDefault();
  const username = $('#login-username').value.trim();
  const password = $('#login-password').value;
  const errNode = $('#login-error');
  if (!username || !password) {
    setError(errNode, 'Enter a username and a password.');
    return;
  }
  const btn = $('#login-submit');
  btn.disabled = true;
  setError(errNode, '');
  try {
    enterSession(await api('POST', '/auth/login', {username, password}));
  } catch (e) {
    setError(errNode, e.message);
    $('#login-password').value = '';
    $('#login-password').focus();
  } finally {
    btn.disabled = false;
  }
}

async function onPasswordChange(ev) {
  ev.preventDefault();
  const oldPw = $('#pw-old').value;
  const newPw = $('#pw-new').value;
  const errNode = $('#pw-error');
  if (newPw !== $('#pw-repeat').value) {
    setError(errNode, 'The new passwords do not match.');
    $('#pw-repeat').focus();
    return;
  }
  const btn = $('#pw-submit');
  btn.disabled = true;
  setError(errNode, '');
  try {
    await api('POST', '/auth/password', {old_password: oldPw, new_password: newPw});
    $('#pw-form').reset();
    showDashboard();
  } catch (e) {
    if (e.status === 401) {
      showLogin('Your session has ended. Please sign in again.');
    } else {
      setError(errNode, e.message);
    }
  } finally {
    btn.disabled = false;
  }
}

async function onLogout() {
  stopPolling();
  try {
    await api('POST', '/auth/logout', {});
  } catch (e) {
    // The session is dropped client-side regardless.
  }
  showLogin();
}

// ---- Polling ----------------------------------------------------------------

function startPolling() {
  poll.active = true;
  poll.count = 0;
  scheduleTick(0);
}

function stopPolling() {
  poll.active = false;
  clearTimeout(poll.timer);
  poll.timer = 0;
}

function scheduleTick(delay) {
  clearTimeout(poll.timer);
  poll.timer = 0;
  if (!poll.active || poll.busy || document.hidden) return;
  poll.timer = setTimeout(tick, delay);
}

/** One refresh: fetches everything in parallel, never overlaps with itself. */
async function tick() {
  poll.timer = 0;
  if (!poll.active || poll.busy || document.hidden) return;
  poll.busy = true;
  const gen = session.gen;
  const linkVer = linkState.ver;
  const started = performance.now();
  const paths = ['/system', '/ports', '/link-modes', '/stats',
    '/history?series=totals.bps&from=-600&points=600'];
  if (poll.count++ % PLUGINS_EVERY === 0) paths.push('/plugins');
  try {
    const results = await Promise.allSettled(paths.map((p) => api('GET', p)));
    if (gen !== session.gen) return;
    const errors = results.filter((r) => r.status === 'rejected').map((r) => r.reason);
    if (errors.some(handleAuthError)) return;
    const [sys, ports, modes, stats, hist, plugins] =
        results.map((r) => (r.status === 'fulfilled' ? r.value : null));
    if (sys) renderSystem(sys);
    if (ports) renderPorts(ports.ports || []);
    if (modes && linkVer === linkState.ver) renderLinkModes(modes);
    if (stats) renderStats(stats);
    if (hist) renderTraffic(hist);
    if (plugins) {
      renderPlugins(plugins);
      renderAnalysisModules(plugins);
    }
    if (poll.count % AN_EVERY === 0) refreshAnalysis();
    if (paths.length > 5 && !plugins) poll.count = 0;  // Retry plugins next tick.
    setError($('#banner'), errors.length ? `Update failed: ${errors[0].message}` : '');
  } finally {
    poll.busy = false;
    scheduleTick(Math.max(200, POLL_MS - (performance.now() - started)));
  }
}

// ---- Renderers --------------------------------------------------------------

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Bit rate over the last 10 minutes: the average line, and the per-interval peaks shaded. */
function renderTraffic(hist) {
  const top = drawChart($('#traffic-chart'), hist.points || [], 600);
  setText($('#traffic-max'), `· peak ${fmtSi(top, 'bit/s')}`);
}

/**
 * Draws history points ([t, avg, max]) of the last `spanS` seconds into an SVG chart.
 * @return {number} the top of the scale (the highest peak)
 */
function drawChart(svg, pts, spanS) {
  const w = 600;
  const h = 120;
  const top = Math.max(1, ...pts.map((p) => p[2]));
  const now = pts.length ? pts[pts.length - 1][0] : 0;
  const x = (t) => w - ((now - t) / spanS) * w;
  const y = (v) => h - (v / top) * (h - 4);
  const line = pts.map((p, i) => `${i ? 'L' : 'M'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`);
  const peak = pts.map((p, i) => `${i ? 'L' : 'M'}${x(p[0]).toFixed(1)},${y(p[2]).toFixed(1)}`);
  const mk = (cls, d) => {
    const path = document.createElementNS(SVG_NS, 'path');
    path.setAttribute('class', cls);
    path.setAttribute('d', d || 'M0,0');
    return path;
  };
  svg.replaceChildren(mk('chart-peak', peak.join('')), mk('chart-avg', line.join('')));
  return top;
}

function renderSystem(sys) {
  setText($('#sys-id'), sys.system_id || '–');
  setText($('#sys-hostname'), sys.hostname || '–');
  setText($('#sys-version'), sys.version ? `v${sys.version}` : '–');
  $('#sys-version').title = `${sys.dpdk_version || ''}, ${sys.workers ?? '?'} worker(s)`;
  setText($('#sys-uptime'), fmtUptime(sys.uptime_s));
  setText($('#sys-mode'), sys.mode || '–');
  $('#sys-mode').className = sys.mode === 'live' ? 'mode-live' : 'mode-other';
  document.title = sys.system_id ? `wiremeter · ${sys.system_id}` : 'wiremeter';
}

const PORT_CELLS = ['name', 'driver', 'link', 'pair', 'rx-packets num', 'rx-bytes num',
  'rx-pps num', 'rx-bps num', 'rx-burst num', 'tx-packets num', 'tx-bytes num', 'tx-pps num', 'tx-bps num',
  'drops num', 'errors num'];

function renderPorts(ports) {
  const tbody = $('#ports-table').tBodies[0];
  const old = new Map([...tbody.rows].map((r) => [r.dataset.port, r]));
  const rows = ports.map((p) => {
    const tr = old.get(p.name) ||
        el('tr', {'data-port': p.name}, ...PORT_CELLS.map((c) => el('td', {class: c})));
    const s = p.stats || {};
    const up = Boolean(p.link && p.link.up);
    const drops = (s.rx_missed || 0) + (s.rx_nombuf || 0) + (s.tx_dropped || 0);
    const errors = (s.rx_errors || 0) + (s.tx_errors || 0);
    const link = up ? `up ${fmtSpeed(p.link.speed_mbps)}`.trim() : 'down';
    const values = [p.name, p.driver || '', link, p.pair || '–',
      fmtInt(s.rx_packets), fmtInt(s.rx_bytes), fmtSi(s.rx_pps), fmtSi(s.rx_bps),
      fmtSi(s.rx_peak_1ms_bps), fmtInt(s.tx_packets), fmtInt(s.tx_bytes), fmtSi(s.tx_pps), fmtSi(s.tx_bps),
      fmtInt(drops), fmtInt(errors)];
    values.forEach((v, i) => setText(tr.cells[i], v));
    const c = tr.cells;
    c[0].title = `${p.mac || ''}\n${p.devargs || ''}`.trim();
    c[2].className = up ? 'link link-up' : 'link link-down';
    c[8].title = 'Microburst: bit rate in the busiest millisecond of the last complete second';
    c[13].className = drops ? 'drops num warn' : 'drops num';
    c[13].title = `rx_missed ${fmtInt(s.rx_missed)}, rx_nombuf ${fmtInt(s.rx_nombuf)}, ` +
        `tx_dropped ${fmtInt(s.tx_dropped)}`;
    c[14].className = errors ? 'errors num bad' : 'errors num';
    c[14].title = `rx_errors ${fmtInt(s.rx_errors)}, tx_errors ${fmtInt(s.tx_errors)}`;
    return tr;
  });
  tbody.replaceChildren(...(rows.length ? rows : [emptyRow(PORT_CELLS.length, 'No ports')]));
  renderHistograms(ports);
}

function renderHistograms(ports) {
  const blocks = ports.map((p) => {
    const bins = p.size_histogram || [];
    const total = bins.reduce((sum, b) => sum + (b.packets || 0), 0);
    const block = el('div', {'class': 'hist', 'data-port': p.name},
        el('div', {class: 'hist-title'}, el('span', {text: p.name}),
            el('span', {class: 'muted num', text: `${fmtInt(total)} pkts`})));
    let prev = null;
    for (const b of bins) {
      const label =
          b.le === null ? `>${prev}` : prev === null ? `≤${b.le}` : `${prev + 1}–${b.le}`;
      if (b.le !== null) prev = b.le;
      const pct = total ? (100 * (b.packets || 0)) / total : 0;
      const fill = el('div', {class: 'bar-fill'});
      fill.style.width = `${pct}%`;
      block.append(el('div', {class: 'hist-row', title: `${fmtInt(b.packets)} packets`},
          el('span', {class: 'num', text: label}), el('div', {class: 'bar'}, fill),
          el('span', {class: 'num', text: fmtSi(b.packets)}),
          el('span', {class: 'num muted', text: `${pct.toFixed(1)}%`})));
    }
    return block;
  });
  const none = el('p', {class: 'empty'}, 'none');
  $('#size-hist').replaceChildren(...(blocks.length ? blocks : [none]));
}

function setLinkDirty(dirty) {
  linkState.dirty = dirty;
  $('#link-mode-dirty').hidden = !dirty;
}

function updateLinkMixed() {
  $('#link-mode-card').classList.toggle('mixed', $('#link-mode-select').value === 'mixed');
}

/** Renders link-mode state unless the user has unsaved edits (or force). */
function renderLinkModes(data, force = false) {
  linkState.data = data;
  if (linkState.dirty && !force) return;
  setLinkDirty(false);
  $('#link-mode-select').value = data.mode;
  const rows = (data.pairs || []).map((pair) => {
    const attrs = {'class': 'pair-select', 'data-pair': pair.name, 'aria-label': pair.name};
    const select = el('select', attrs, el('option', {value: 'bridge'}, 'bridge'),
        el('option', {value: 'sink'}, 'sink'));
    select.value = pair.mode;
    const eff = pair.effective_mode || '–';
    return el('tr', {'data-pair': pair.name}, el('td', {class: 'mono', text: pair.name}),
        el('td', {class: 'mono', text: (pair.ports || []).join(' ↔ ')}),
        el('td', {}, select, el('span', {class: 'pair-mode', text: pair.mode || '–'})),
        el('td', {class: eff === pair.mode ? '' : 'warn', text: eff}));
  });
  // Unpaired ports (a mirror port, a TAP leg, the demo replay) are always analyzed and dropped.
  for (const name of data.unpaired_ports || []) {
    rows.push(el('tr', {'data-unpaired': name}, el('td', {class: 'mono', text: '–'}),
        el('td', {class: 'mono', text: name}), el('td', {text: 'not paired'}),
        el('td', {text: 'sink'})));
  }
  $('#link-pairs').tBodies[0].replaceChildren(
      ...(rows.length ? rows : [emptyRow(4, 'No ports configured')]));
  updateLinkMixed();
}

async function applyLinkMode() {
  const mode = $('#link-mode-select').value;
  const body = {mode};
  if (mode === 'mixed') {
    body.pairs = {};
    document.querySelectorAll('#link-pairs select[data-pair]')
        .forEach((s) => (body.pairs[s.dataset.pair] = s.value));
  }
  const btn = $('#link-mode-apply');
  const errNode = $('#link-mode-error');
  btn.disabled = true;
  setError(errNode, '');
  linkState.ver++;
  try {
    const data = await api('PUT', '/link-modes', body);
    linkState.ver++;
    renderLinkModes(data, true);
  } catch (e) {
    if (!handleAuthError(e)) setError(errNode, e.message);
  } finally {
    btn.disabled = false;
  }
}

function renderStats(stats) {
  const t = stats.totals || {};
  setText($('#totals-packets'), fmtInt(t.packets));
  setText($('#totals-bytes'), fmtInt(t.bytes));
  setText($('#totals-pps'), fmtSi(t.pps, 'pps'));
  setText($('#totals-bps'), fmtSi(t.bps, 'bit/s'));

  const f = stats.flows || {};
  const util = f.capacity ? ` (${((100 * (f.active || 0)) / f.capacity).toFixed(1)}%)` : '';
  renderKv($('#flows-table').tBodies[0], [
    ['Active', `${fmtInt(f.active)}${util}`],
    ['Capacity', fmtInt(f.capacity)],
    ['Created', fmtInt(f.created)],
    ['Expired', fmtInt(f.expired)],
    ['Evicted', fmtInt(f.evicted), f.evicted ? 'warn' : ''],
  ]);

  const errs = Object.entries(stats.decode_errors || {})
      .filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1]);
  const box = $('#decode-errors');
  if (!errs.length) {
    box.replaceChildren(el('p', {class: 'empty'}, 'none'));
    return;
  }
  const tbody = el('tbody');
  renderKv(tbody, errs.map(([k, n]) => [k, fmtInt(n), 'warn']));
  box.replaceChildren(el('table', {class: 'grid kv mono-keys'}, tbody));
}

function renderPlugins(data) {
  const loaded = (data.loaded || []).map((p) =>
    el('tr', {'data-plugin': p.name, 'title': p.path}, el('td', {class: 'mono', text: p.name}),
        el('td', {class: 'mono', text: p.version || ''}),
        el('td', {}, el('span', {class: 'badge', text: p.kind || '?'})),
        el('td', {text: p.description || ''})));
  $('#plugins-loaded').tBodies[0].replaceChildren(
      ...(loaded.length ? loaded : [emptyRow(4, 'none')]));
  const refused = (data.refused || []).map((r) =>
    el('li', {'class': 'warning', 'data-path': r.path}, el('div', {class: 'path', text: r.path}),
        el('div', {class: 'reason', text: r.reason})));
  $('#plugins-refused').replaceChildren(...refused);
  $('#plugins-refused-none').hidden = refused.length > 0;
}

// ---- Analysis: the modules' lists ------------------------------------------

/**
 * The list views of each analyzer module (GET /api/v1/<module>/<view>), in the order shown.
 * `detail` gives the path of a row's detail view (which names its graph's history series, when
 * the module keeps one); `summary` the views that are counters, not lists; `sort` a view's
 * default column. A module shows up only when its plugin is loaded.
 */
const MODULE_VIEWS = {
  port: {views: ['ports'], detail: {ports: (r) => `ports/${r.id}`}},
  connections: {views: ['flows', 'servers'], sort: {flows: 'bytes', servers: 'flows'},
    detail: {flows: (r) => `flows/${r.flow}`,
      servers: (r) => `servers/${r.server.includes(':') ? `[${r.server}]` : r.server}:${r.port}/${r.proto}`}},
  dpi: {views: ['protocols', 'flows'], sort: {protocols: 'bytes', flows: 'end'},
    detail: {protocols: (r) => `protocols/${r.protocol}`}},
  ip: {views: ['hosts', 'names'], detail: {hosts: (r) => `hosts/${r.address}`}},
  mac: {views: ['macs'], detail: {macs: (r) => `macs/${r.mac}`}},
  l2: {views: ['vlans', 'qos', 'qos/pcp', 'mpls', 'arp', 'arp/bindings', 'arp/conflicts',
    'control', 'control/stp', 'control/lldp', 'sizes', 'cast', 'cast/groups'],
  summary: ['arp', 'sizes', 'cast'],
  detail: {'vlans': (r) => `vlans/${r.vlan}`, 'arp/bindings': (r) => `arp/bindings/${r.ip}`,
    'mpls': (r) => `mpls/${r.label}`, 'qos': (r) => `qos/${r.dscp}`, 'qos/pcp': (r) => `qos/pcp/${r.pcp}`}},
  dns: {views: ['servers', 'names', 'top_names', 'transactions'],
    detail: {servers: (r) => `servers/${r.server}`}},
  dhcp: {views: ['clients', 'servers', 'leases', 'transactions'],
    detail: {clients: (r) => `clients/${r.mac}`, servers: (r) => `servers/${r.server}`}},
  http: {views: ['servers', 'hosts', 'transactions'],
    detail: {servers: (r) => `servers/${r.server}`}},
  tls: {views: ['connections', 'server_names', 'certificates'],
    detail: {certificates: (r) => `certificates/${r.sha256}`,
      server_names: (r) => `server_names/${r.name}`}},
  quic: {views: ['connections', 'server_names', 'versions'],
    detail: {connections: (r) => `connections/${r.id}`,
      server_names: (r) => `server_names/${r.server_name}`}},
  voip: {views: ['calls', 'streams'],
    detail: {calls: (r) => `calls/${r.call_id}`, streams: (r) => `streams/${r.id}`}},
};
const AN_PAGE_SIZE = 25;
const AN_EVERY = 3;  // Poll ticks between refreshes of the open list.
const analysis = {modules: [], module: '', view: '', sort: '', order: 'desc', page: 1, total: 0,
  detail: null, busy: false};

/** Called with the plugin list: offers the loaded modules that have views. */
function renderAnalysisModules(plugins) {
  const names = (plugins.loaded || []).map((p) => p.name).filter((n) => MODULE_VIEWS[n]);
  names.sort((a, b) => Object.keys(MODULE_VIEWS).indexOf(a) - Object.keys(MODULE_VIEWS).indexOf(b));
  if (names.join() === analysis.modules.join()) return;
  analysis.modules = names;
  $('#an-modules').replaceChildren(...names.map((n) => {
    const b = el('button', {'type': 'button', 'role': 'tab', 'data-module': n, 'text': n});
    b.addEventListener('click', () => selectModule(n));
    return b;
  }));
  if (!names.includes(analysis.module) && names.length) selectModule(names[0]);
}

function selectModule(name) {
  analysis.module = name;
  for (const b of $('#an-modules').children) {
    b.setAttribute('aria-selected', String(b.dataset.module === name));
  }
  const views = MODULE_VIEWS[name].views;
  $('#an-view').replaceChildren(...views.map((v) => el('option', {value: v, text: v})));
  selectView(views[0]);
}

function selectView(view) {
  const m = MODULE_VIEWS[analysis.module];
  analysis.view = view;
  $('#an-view').value = view;
  analysis.sort = (m.sort && m.sort[view]) || '';
  analysis.order = 'desc';
  analysis.page = 1;
  closeDetail();
  refreshAnalysis();
}

function closeDetail() {
  analysis.detail = null;
  $('#an-detail').hidden = true;
}

function analysisPath() {
  const m = MODULE_VIEWS[analysis.module];
  // The window is relative (from=-600): the appliance's clock decides, not the browser's.
  const win = Number($('#an-window').value);
  if (m.summary && m.summary.includes(analysis.view)) {
    return `/${analysis.module}/${analysis.view}${win ? `?from=-${win}` : ''}`;
  }
  const q = new URLSearchParams({page: analysis.page, size: AN_PAGE_SIZE, order: analysis.order});
  if (analysis.sort) q.set('sort', analysis.sort);
  const filter = $('#an-filter').value.trim();
  if (filter) q.set('filter', filter);
  if (win) q.set('from', `-${win}`);
  return `/${analysis.module}/${analysis.view}?${q}`;
}

/** Fetches the open list (and the open detail), and renders them. */
async function refreshAnalysis() {
  if (!analysis.module || analysis.busy) return;
  analysis.busy = true;
  const gen = session.gen;
  const key = `${analysis.module}/${analysis.view}`;
  try {
    const data = await api('GET', analysisPath());
    if (gen !== session.gen || key !== `${analysis.module}/${analysis.view}`) return;
    let items = Array.isArray(data.items) ? data.items : data[analysis.view];
    if (!Array.isArray(items)) {
      // A summary (counters, not a list): one row per field.
      items = Object.entries(data).map(([field, value]) => ({field, value}));
    }
    analysis.total = data.total !== undefined ? data.total : items.length;
    if (data.sort) analysis.sort = data.sort;
    renderAnalysisTable(items);
    setError($('#an-error'), '');
    if (analysis.detail) await refreshDetail();
  } catch (e) {
    if (handleAuthError(e)) return;
    renderAnalysisTable([]);
    setError($('#an-error'), e.message);
  } finally {
    analysis.busy = false;
  }
}

function fmtCell(key, v) {
  if (v === null || v === undefined) return '–';
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : x)).join(', ');
  if (typeof v === 'object') return JSON.stringify(v);
  if (typeof v === 'number') {
    if (/(^|_)(seen|ts|time|start|end|first|last)(_|$)/.test(key) && v > 1e9 && v < 1e10) {
      return new Date(v * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
    }
    return Number.isInteger(v) ? fmtInt(v) : String(Math.round(v * 1000) / 1000);
  }
  return String(v);
}

function renderAnalysisTable(items) {
  const table = $('#an-table');
  const cols = [];
  for (const r of items.slice(0, 10)) {
    for (const k of Object.keys(r)) if (!cols.includes(k)) cols.push(k);
  }
  const head = el('tr', {}, ...cols.map((c) => {
    const th = el('th', {'text': c, 'data-col': c, 'title': 'Sort by ' + c});
    if (c === analysis.sort) th.setAttribute('aria-sort', analysis.order === 'asc' ? 'ascending' : 'descending');
    th.addEventListener('click', () => {
      const m = MODULE_VIEWS[analysis.module];
      if (m.summary && m.summary.includes(analysis.view)) return;  // counters: nothing to sort
      analysis.order = analysis.sort === c && analysis.order === 'desc' ? 'asc' : 'desc';
      analysis.sort = c;
      analysis.page = 1;
      refreshAnalysis();
    });
    return th;
  }));
  table.tHead.replaceChildren(head);
  const rows = items.map((r) => {
    const tr = el('tr', {class: 'clickable'}, ...cols.map((c) => {
      const v = r[c];
      return el('td', {class: typeof v === 'number' ? 'num' : '', text: fmtCell(c, v)});
    }));
    tr.addEventListener('click', () => openDetail(r));
    return tr;
  });
  table.tBodies[0].replaceChildren(...(rows.length ? rows : [emptyRow(Math.max(1, cols.length), 'none')]));
  const pages = Math.max(1, Math.ceil(analysis.total / AN_PAGE_SIZE));
  setText($('#an-page'), `${fmtInt(analysis.total)} rows · page ${analysis.page} of ${pages}`);
  $('#an-prev').disabled = analysis.page <= 1;
  $('#an-next').disabled = analysis.page >= pages;
}

function openDetail(row) {
  analysis.detail = {module: analysis.module, view: analysis.view, row};
  refreshDetail();
}

/** The detail of one row: its detail view when the module has one, and its graph. */
async function refreshDetail() {
  const d = analysis.detail;
  if (!d) return;
  const m = MODULE_VIEWS[d.module];
  let data = d.row;
  const detailPath = m.detail && m.detail[d.view] && m.detail[d.view](d.row);
  if (detailPath) {
    try {
      data = await api('GET', `/${d.module}/${detailPath.split('/').map(encodeURIComponent).join('/')}`);
    } catch (e) {
      if (handleAuthError(e)) return;
      data = {error: e.message};
    }
  }
  if (analysis.detail !== d) return;
  const series = data && typeof data.series === 'string' ? data.series : null;
  // A detail view wraps its entity in one object ({"mac": {...}, "series": ...}): show its fields.
  const flat = {};
  for (const [k, v] of Object.entries(data || {})) {
    if (v && typeof v === 'object' && !Array.isArray(v)) Object.assign(flat, v);
    else if (k !== 'series') flat[k] = v;
  }
  setText($('#an-detail-title'), `${d.module} · ${detailPath || d.view}`);
  $('#an-detail-kv').tBodies[0].replaceChildren(...Object.entries(flat).map(([k, v]) =>
    el('tr', {}, el('th', {text: k}), el('td', {class: 'mono', text: fmtCell(k, v)}))));
  const chart = $('#an-detail-chart');
  const note = $('#an-detail-chart-note');
  // A series starts with the second after its entity's detail was first opened: until it is
  // listed, say so instead of asking for it (which would be a 404).
  let recorded = false;
  let full = false;
  if (series) {
    try {
      const list = await api('GET', '/history');
      recorded = (list.series || []).includes(series);
      full = (list.series || []).length >= list.capacity && list.refused > 0;
    } catch (e) {
      recorded = true;  // let the request below report the error
    }
    if (analysis.detail !== d) return;
  }
  if (series && !recorded) {
    chart.toggleAttribute('hidden', true);
    setText(note, full ?
      `${series}: the history is full; this graph starts once another series goes quiet.` :
      `${series}: recording starts now; the graph appears within a few seconds.`);
    note.hidden = false;
  } else if (series) {
    try {
      const hist = await api('GET', `/history?series=${encodeURIComponent(series)}&from=-600&points=600`);
      if (analysis.detail !== d) return;
      drawChart(chart, hist.points || [], 600);
      chart.toggleAttribute('hidden', false);  // an SVG element has no .hidden property
      setText(note, `${series}, last 10 minutes`);
      note.hidden = false;
    } catch (e) {
      chart.toggleAttribute('hidden', true);
      setText(note, `No graph: ${e.message}`);
      note.hidden = false;
    }
  } else {
    chart.toggleAttribute('hidden', true);
    setText(note, 'Graphs are kept for the busiest entities; this one has none now.');
    note.hidden = !(m.detail && m.detail[d.view]);
  }
  $('#an-detail').hidden = false;
}

function wireAnalysis() {
  $('#an-view').addEventListener('change', (ev) => selectView(ev.target.value));
  let filterTimer = 0;
  $('#an-filter').addEventListener('input', () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => { analysis.page = 1; refreshAnalysis(); }, 300);
  });
  $('#an-window').addEventListener('change', () => { analysis.page = 1; refreshAnalysis(); });
  $('#an-prev').addEventListener('click', () => { analysis.page--; refreshAnalysis(); });
  $('#an-next').addEventListener('click', () => { analysis.page++; refreshAnalysis(); });
}

// ---- Start ------------------------------------------------------------------

async function start() {
  $('#login-form').addEventListener('submit', onLogin);
  $('#pw-form').addEventListener('submit', onPasswordChange);
  $('#logout').addEventListener('click', onLogout);
  $('#link-mode-apply').addEventListener('click', applyLinkMode);
  $('#link-mode-card').addEventListener('change', (ev) => {
    if (ev.target.tagName !== 'SELECT') return;
    setLinkDirty(true);
    updateLinkMixed();
  });
  $('#link-mode-discard').addEventListener('click', () => {
    setError($('#link-mode-error'), '');
    if (linkState.data) renderLinkModes(linkState.data, true);
  });
  wireAnalysis();
  document.addEventListener('visibilitychange', () => scheduleTick(0));
  try {
    enterSession(await api('GET', '/auth/session'));
  } catch (e) {
    showLogin(e.status === 401 ? '' : `Cannot check the session: ${e.message}`);
  }
}

start();
