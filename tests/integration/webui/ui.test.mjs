// End-to-end test of the wiremeter web UI in headless Debian Chromium (driven by playwright-core).
// Run by ../webui_test.sh, which starts wiremeter on the demo replay and sets WM_URL.
// Env: WM_URL (required), WM_SCREENSHOT (optional PNG path), WM_CHROMIUM (default /usr/bin/chromium).
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {chromium} from 'playwright-core';

const BASE = process.env.WM_URL;
const SCREENSHOT = process.env.WM_SCREENSHOT || '';
const FACTORY_PW = 'allegro';
const NEW_PW = 'wm-e2e-Passw0rd';
const T = 10_000;  // Bound for any single wait.

let context;
let page;
let profileDir;
const consoleErrors = [];

/** "52,122" -> 52122; NaN for a dash or anything else. */
const num = (s) => (/^[\d,]+$/.test(s.trim()) ? Number(s.trim().replace(/,/g, '')) : NaN);

before(async () => {
  assert.ok(BASE, 'WM_URL must be set (run through webui_test.sh)');
  profileDir = mkdtempSync(join(tmpdir(), 'wm-chromium-'));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: process.env.WM_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: {width: 1400, height: 1000},
    timeout: 20_000,
  });
  context.setDefaultTimeout(T);
  page = context.pages()[0] || await context.newPage();
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const url = m.location()?.url || '';
    // Expected: the UI probes GET /auth/session, which answers 401 while logged out, and
    // Chromium logs every failed response as a console error.
    if (/status of 401\b/.test(m.text()) && url.endsWith('/api/v1/auth/session')) return;
    consoleErrors.push(`${m.text()}${url ? ` [${url}]` : ''}`);
  });
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
});

after(async () => {
  await context?.close();
  if (profileDir) rmSync(profileDir, {recursive: true, force: true});
});

async function login(password) {
  await page.locator('#login-view').waitFor({state: 'visible'});
  await page.fill('#login-username', 'admin');
  await page.fill('#login-password', password);
  await page.click('#login-submit');
}

async function rxPackets() {
  return num(await page.locator('#ports-table tbody tr[data-port="demo0"] td.rx-packets')
      .textContent());
}

test('first login forces a password change', async () => {
  const resp = await page.goto(BASE + '/', {waitUntil: 'load'});
  assert.equal(resp.status(), 200);
  await page.locator('#login-view').waitFor({state: 'visible'});
  assert.equal(await page.locator('#dashboard').isVisible(), false);
  await login(FACTORY_PW);
  await page.locator('#pw-view').waitFor({state: 'visible'});
  assert.equal(await page.locator('#dashboard').isVisible(), false,
      'dashboard must stay hidden until the password is changed');
});

test('mismatched repeat is refused, then the password is changed', async () => {
  await page.fill('#pw-old', FACTORY_PW);
  await page.fill('#pw-new', NEW_PW);
  await page.fill('#pw-repeat', NEW_PW + 'x');
  await page.click('#pw-submit');
  await page.locator('#pw-error').waitFor({state: 'visible'});
  assert.match(await page.locator('#pw-error').textContent(), /do not match/);
  assert.equal(await page.locator('#pw-view').isVisible(), true);

  await page.fill('#pw-repeat', NEW_PW);
  await page.click('#pw-submit');
  await page.locator('#dashboard').waitFor({state: 'visible'});
  assert.equal(await page.locator('#pw-view').isVisible(), false);
});

test('dashboard shows live port counters, plugins and totals', async () => {
  const row = page.locator('#ports-table tbody tr[data-port="demo0"]');
  await row.waitFor({state: 'visible'});
  assert.equal((await row.locator('td.name').textContent()).trim(), 'demo0');
  assert.match(await row.locator('td.link').textContent(), /^up/);

  // Numbers must be live: the poll loop keeps redrawing the counters.
  await page.waitForFunction(() => /^[\d,]+$/.test(
      document.querySelector('tr[data-port="demo0"] td.rx-packets')?.textContent ?? ''));
  const first = await rxPackets();
  await page.waitForTimeout(2000);
  const second = await rxPackets();
  assert.ok(first > 0, `rx packets should be > 0, got ${first}`);
  assert.ok(second > first, `rx packets should increase: ${first} -> ${second}`);

  const plugin = page.locator('#plugins-loaded tbody tr[data-plugin="port"]');
  await plugin.waitFor({state: 'visible'});
  assert.equal((await plugin.locator('td').first().textContent()).trim(), 'port');

  await page.waitForFunction(() => /^[\d,]+$/.test(
      document.querySelector('#totals-packets')?.textContent ?? ''));
  const total = num(await page.locator('#totals-packets').textContent());
  assert.ok(total > 0, `totals packets should be > 0, got ${total}`);

  assert.equal(await page.locator('#banner').isVisible(), false,
      `unexpected banner: ${await page.locator('#banner').textContent()}`);
  assert.equal((await page.locator('#user-name').textContent()).trim(), 'admin');

  if (SCREENSHOT) await page.screenshot({path: SCREENSHOT, fullPage: true});
});

test('analysis lists a module, sorts on the server, and opens a detail with its graph', async () => {
  // The connections flows of the demo replay, biggest first.
  await page.locator('#an-modules button[data-module="connections"]').click();
  const rows = page.locator('#an-table tbody tr.clickable');
  // The first tab (port) may still be on screen: wait for the flows' own column.
  await page.waitForFunction(() =>
    document.querySelector('#an-table thead th[data-col="flow"]') &&
        document.querySelectorAll('#an-table tbody tr.clickable').length > 0);
  const bytesCol = await page.locator('#an-table thead th').evaluateAll(
      (ths) => ths.findIndex((th) => th.dataset.col === 'bytes'));
  assert.ok(bytesCol >= 0, 'flows have a bytes column');
  const bytes = async () => (await rows.evaluateAll((trs, i) =>
    trs.map((tr) => tr.children[i].textContent), bytesCol)).map(num);
  let seen = await bytes();
  assert.deepEqual(seen, [...seen].sort((a, b) => b - a), `descending by bytes: ${seen}`);
  // A click on the header asks the server for the other order.
  await page.locator('#an-table thead th[data-col="bytes"]').click();
  await page.waitForFunction(() =>
    document.querySelector('#an-table thead th[data-col="bytes"]')?.getAttribute('aria-sort') ===
        'ascending');
  seen = await bytes();
  assert.deepEqual(seen, [...seen].sort((a, b) => a - b), `ascending by bytes: ${seen}`);
  // A filter no flow matches empties the list.
  await page.fill('#an-filter', 'no-such-flow-anywhere');
  await page.waitForFunction(() => /^0 rows/.test(document.querySelector('#an-page').textContent));
  await page.fill('#an-filter', '');
  // The last 5 minutes (from=-300, on the appliance's clock) still hold the replay's flows.
  await page.selectOption('#an-window', '300');
  await page.waitForFunction(() =>
    /^[1-9]/.test(document.querySelector('#an-page').textContent) &&
        document.querySelectorAll('#an-table tbody tr.clickable').length > 0);
  assert.equal(await page.locator('#an-error').isVisible(), false,
      `unexpected error: ${await page.locator('#an-error').textContent()}`);
  // Its servers table: the busiest server's detail has its bit-rate graph.
  await page.selectOption('#an-view', 'servers');
  await page.waitForFunction(() =>
    document.querySelector('#an-table thead th[data-col="flows"]') &&
        document.querySelectorAll('#an-table tbody tr.clickable').length > 0);
  await page.locator('#an-table tbody tr.clickable').first().click();
  await page.locator('#an-detail-chart').waitFor({state: 'visible'});
  assert.match(await page.locator('#an-detail-chart-note').textContent(),
      /^connections\.server\..*\.bps/);
  await page.selectOption('#an-window', '');

  // MACs: the busiest has a graph in its detail view.
  await page.locator('#an-modules button[data-module="mac"]').click();
  await page.waitForFunction(() =>
    document.querySelector('#an-table thead th[data-col="mac"]') &&
        document.querySelectorAll('#an-table tbody tr.clickable').length > 0);
  await page.locator('#an-table tbody tr.clickable').first().click();
  await page.locator('#an-detail').waitFor({state: 'visible'});
  await page.locator('#an-detail-chart').waitFor({state: 'visible'});
  assert.match(await page.locator('#an-detail-chart-note').textContent(), /^mac\..*\.bps/);
  const path = await page.locator('#an-detail-chart path.chart-avg').getAttribute('d');
  assert.ok(path && path.length > 10, `graph drawn: ${path}`);

  // dpi: protocols listed by the server, most bytes first; the busiest one's detail is graphed.
  await page.locator('#an-modules button[data-module="dpi"]').click();
  await page.waitForFunction(() =>
    document.querySelector('#an-table thead th[data-col="protocol"]') &&
        document.querySelectorAll('#an-table tbody tr.clickable').length > 0);
  await page.locator('#an-table tbody tr.clickable').first().click();
  await page.locator('#an-detail-chart').waitFor({state: 'visible'});
  assert.match(await page.locator('#an-detail-chart-note').textContent(), /^dpi\..*\.bps/);
  assert.equal(await page.locator('#an-error').isVisible(), false,
      `unexpected error: ${await page.locator('#an-error').textContent()}`);
});

test('log out returns to the login form', async () => {
  await page.click('#logout');
  await page.locator('#login-view').waitFor({state: 'visible'});
  assert.equal(await page.locator('#dashboard').isVisible(), false);
  assert.equal(await page.locator('#logout').isVisible(), false);
  // The session must end on the server too, not just in the page.
  const status = await page.evaluate(async () =>
    (await fetch('/api/v1/auth/session', {credentials: 'same-origin'})).status);
  assert.equal(status, 401, `GET /auth/session after log out answered ${status}: the ` +
      'server session is still valid (did POST /auth/logout fail?)');
});

test('the new password logs straight into the dashboard', async () => {
  await login(NEW_PW);
  await page.locator('#dashboard').waitFor({state: 'visible'});
  assert.equal(await page.locator('#pw-view').isVisible(), false);
  await page.locator('#ports-table tbody tr[data-port="demo0"]').waitFor({state: 'visible'});
});

test('no console errors on the page', () => {
  assert.deepEqual(consoleErrors, []);
});
