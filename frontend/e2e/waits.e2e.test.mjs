// End-to-end for durable waits: the real app (`flowplane up`) driven by Debian's Chromium. A flow
// whose second step waits for an approval: Run it from the editor, see `waiting` (and what it
// waits for) in the runs view, Approve there, see it complete with its output.
// Screenshots per stage in ../test-artifacts/e2e-waits/. Same variables as editor.e2e.test.mjs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const FRONTEND = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const FLOWPLANE_BIN = resolve(FRONTEND, process.env.FLOWPLANE_BIN || '../.venv/bin/flowplane');
const ARTIFACTS = resolve(FRONTEND, '../test-artifacts/e2e-waits');
const DIST_INDEX = join(FRONTEND, 'dist', 'index.html');
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-default-apps',
  '--disable-extensions',
  '--metrics-recording-only',
];

const chromiumMissing = !existsSync(CHROMIUM);
if (chromiumMissing) {
  console.log(`# SKIP browser tests: Chromium not found at ${CHROMIUM} (set CHROMIUM_BIN or install chromium)`);
}

let server = null;
let baseUrl = '';
let dataDir = '';
let browser = null;
let page = null;
const consoleErrors = [];
let shot = 0;

function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolvePort(port));
    });
  });
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

async function waitForHealth(url, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`flowplane exited early with code ${child.exitCode}; see server.log`);
    try {
      const response = await fetch(`${url}/health`);
      if (response.status === 200) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = error.message;
    }
    await sleep(300);
  }
  throw new Error(`GET /health did not answer 200 within ${timeoutMs} ms (${last})`);
}

async function stopServer() {
  if (!server || server.exitCode !== null) return;
  const exited = new Promise((done) => server.once('exit', done));
  try {
    process.kill(-server.pid, 'SIGTERM');
  } catch {
    server.kill('SIGTERM');
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-server.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }, 10_000);
  await exited;
  clearTimeout(timer);
}

async function screenshot(name) {
  shot += 1;
  await page.screenshot({ path: join(ARTIFACTS, `${String(shot).padStart(2, '0')}-${name}.png`) });
}

const ORGANISM = `version: 1
organism: {name: shipping}
triggers:
  - {name: run, kind: manual, target: prepare}
listeners:
  - name: prepare
    handler: builtin.transform
    peers: [review]
    config: {set: {order: "{{ payload.order }}"}}
  - name: review
    handler: builtin.wait
    peers: [ship]
    config: {kind: approval, message: "Ship order {{ payload.order }}?"}
  - name: ship
    handler: builtin.output
    config: {expression: "{shipped: payload.order}"}
`;

async function api(path, options = {}) {
  const token = await page.evaluate(() => localStorage.getItem('flowplane.token'));
  const response = await fetch(`${baseUrl}${path}`, {
    ...options,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(options.headers ?? {}) },
  });
  const text = await response.text();
  assert.ok(response.ok, `${options.method ?? 'GET'} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

before(async () => {
  if (chromiumMissing) return;
  assert.ok(existsSync(DIST_INDEX), 'frontend/dist is missing: run `npm --prefix frontend run build` first');
  assert.ok(existsSync(FLOWPLANE_BIN), `flowplane not found at ${FLOWPLANE_BIN} (set FLOWPLANE_BIN)`);
  rmSync(ARTIFACTS, { recursive: true, force: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), 'flowplane-e2e-waits-'));
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  const log = createWriteStream(join(ARTIFACTS, 'server.log'));
  server = spawn(FLOWPLANE_BIN, ['up', '--host', '127.0.0.1', '--port', String(port)], {
    cwd: dataDir,
    env: { ...process.env, FLOWPLANE_DATA_DIR: dataDir, FLOWPLANE_WAIT_POLL_SECONDS: '0.2' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  server.stdout.pipe(log);
  server.stderr.pipe(log);
  await waitForHealth(baseUrl, server, 90_000);

  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: !process.env.E2E_HEADED, args: CHROMIUM_ARGS });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  page.setDefaultTimeout(30_000);
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(`console: ${message.text()} (${message.location()?.url ?? ''})`);
  });
  page.on('pageerror', (error) => consoleErrors.push(`page error: ${error.message}`));
});

after(async () => {
  await browser?.close().catch(() => {});
  await stopServer();
  if (dataDir && !process.env.E2E_KEEP_DATA) rmSync(dataDir, { recursive: true, force: true });
});

test('run a flow that waits for an approval, approve it in the runs view', { skip: chromiumMissing && 'Chromium is not installed', timeout: 300_000 }, async (t) => {
  let failed = false;
  let flowId = '';
  const stage = (name, body) =>
    t.test(name, { skip: failed && 'an earlier stage failed' }, async () => {
      try {
        await body();
        await screenshot(name);
      } catch (error) {
        failed = true;
        await screenshot(`FAILED-${name}`).catch(() => {});
        throw error;
      }
    });

  await stage('signup-and-flow', async () => {
    await page.goto(`${baseUrl}/signup`);
    await page.getByTestId('auth-email').fill(`waits-${Date.now()}@example.com`);
    await page.getByTestId('auth-password').fill('correct horse battery staple');
    await page.getByTestId('auth-submit').click();
    await page.waitForURL('**/dashboard');
    flowId = (await api('/api/flows', { method: 'POST', body: JSON.stringify({ organism_yaml: ORGANISM }) })).id;
    await page.goto(`${baseUrl}/flow/${flowId}`);
    await page.getByTestId('node-review').waitFor();
  });

  await stage('start-and-run', async () => {
    await page.getByTestId('toolbar-start').click();
    await page.locator('[data-testid="flow-status"][data-status="running"]').waitFor({ timeout: 90_000 });
    await page.getByTestId('toolbar-run').click();
    await page.getByTestId('run-payload').fill('{"order": "A-7"}');
    await page.getByTestId('run-submit').click();
    await page.getByTestId('run-result').waitFor({ timeout: 60_000 });
    assert.equal(await page.getByTestId('run-status').getAttribute('data-status'), 'waiting');
  });

  await stage('waiting-in-runs', async () => {
    await page.getByTestId('run-open-timeline').click();
    await page.waitForURL(/\/runs\/[0-9a-f]+$/);
    await page.locator('[data-testid="execution-status"][data-status="waiting"]').waitFor();
    assert.match((await page.getByTestId('execution-waiting').textContent()) ?? '', /approval: Ship order A-7\?/);
    await page.locator('[data-testid^="run-waiting-"]', { hasText: 'Ship order A-7?' }).waitFor();
  });

  await stage('approve-and-complete', async () => {
    await page.getByTestId('execution-approve').click();
    await page.locator('[data-testid="execution-status"][data-status="succeeded"]').waitFor({ timeout: 60_000 });
    assert.match((await page.getByTestId('execution-outputs').textContent()) ?? '', /"shipped": "A-7"/);
    assert.equal(await page.getByTestId('execution-approve').count(), 0);
  });

  await stage('no-console-errors', async () => {
    await api(`/api/flows/${flowId}/stop`, { method: 'POST' });
    assert.deepEqual(consoleErrors, []);
  });
});
