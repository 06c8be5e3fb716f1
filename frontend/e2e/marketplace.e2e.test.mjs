// End-to-end for the marketplace: the real app (`flowplane up`, Pro tier by default here) driven
// by Debian's Chromium. Publish a module as a tool from the module editor, browse and search the
// marketplace, open the listing (README, capabilities), install it through the grant dialog, find
// it in the palette's Marketplace tab, drag it onto a flow, fill its settings form (from the
// tool's JSON Schema), start and run; then publish the flow as a template and start a new flow
// from it. Screenshots per stage in ../test-artifacts/e2e-marketplace/.
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
const ARTIFACTS = resolve(FRONTEND, '../test-artifacts/e2e-marketplace');
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


async function center(locator) {
  const box = await locator.boundingBox();
  assert.ok(box, 'element is not visible');
  return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
}

async function connect(sourceHandle, targetHandle) {
  const from = await center(page.getByTestId(sourceHandle));
  const to = await center(page.getByTestId(targetHandle));
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  await page.mouse.move((from.x + to.x) / 2, (from.y + to.y) / 2 + 20, { steps: 8 });
  await page.mouse.move(to.x, to.y, { steps: 8 });
  await page.mouse.up();
}

async function dropFromPalette(kind, x, y) {
  await page.getByTestId(`palette-${kind}`).dragTo(page.getByTestId('canvas'), { targetPosition: { x, y } });
}


// A compiled module (echo: answers its input document) that imports flowplane.http_fetch, so the
// tool declares a capability the installer must grant. It never fetches: runs need no network.
const ECHO_FETCH_WASM =
  'AGFzbQEAAAABDAJgAn9/AX5gAX8BfwIYAQlmbG93cGxhbmUKaHR0cF9mZXRjaAAAAwMCAQAFAwEAAQYHAX8BQYAICwcbAwZtZW1vcnkCAAVhbGxvYwABBmhhbmRsZQACCiACEQEBfyMAIQEgASAAaiQAIAELDAAgAK1CIIYgAa2ECwAzBG5hbWUBCAEABWZldGNoAhkCAQIAA2xlbgEDcHRyAgIAA3B0cgEDbGVuBwcBAARoZWFw';
const CONFIG_SCHEMA = JSON.stringify({ type: 'object', properties: { city: { type: 'string', title: 'City' } }, required: ['city'] });

before(async () => {
  if (chromiumMissing) return;
  assert.ok(existsSync(DIST_INDEX), 'frontend/dist is missing: run `npm --prefix frontend run build` first');
  assert.ok(existsSync(FLOWPLANE_BIN), `flowplane not found at ${FLOWPLANE_BIN} (set FLOWPLANE_BIN)`);
  rmSync(ARTIFACTS, { recursive: true, force: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), 'flowplane-e2e-marketplace-'));
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  const log = createWriteStream(join(ARTIFACTS, 'server.log'));
  server = spawn(FLOWPLANE_BIN, ['up', '--host', '127.0.0.1', '--port', String(port)], {
    cwd: dataDir,
    // Publishing tools needs Pro: the workspace this test signs up is on Pro.
    env: { ...process.env, FLOWPLANE_DATA_DIR: dataDir, FLOWPLANE_DEFAULT_TIER: 'pro' },
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
    if (message.type() !== 'error') return;
    consoleErrors.push(`console: ${message.text()} (${message.location()?.url ?? ''})`);
  });
  page.on('pageerror', (error) => consoleErrors.push(`page error: ${error.message}`));
});

after(async () => {
  await browser?.close().catch(() => {});
  await stopServer();
  if (dataDir && !process.env.E2E_KEEP_DATA) rmSync(dataDir, { recursive: true, force: true });
});

test('publish, find, install and run a tool; publish a flow as a template and start from it', { skip: chromiumMissing && 'Chromium is not installed', timeout: 600_000 }, async (t) => {
  let failed = false;
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

  await stage('signup-and-upload-a-module', async () => {
    await page.goto(`${baseUrl}/signup`);
    await page.getByTestId('auth-email').fill(`market-${Date.now()}@example.com`);
    await page.getByTestId('auth-password').fill('correct horse battery staple');
    await page.getByTestId('auth-submit').click();
    await page.waitForURL('**/dashboard');
    // a compiled module, uploaded through the modules API as a developer's script would
    const moduleId = await page.evaluate(async (wasm) => {
      const response = await fetch('/api/modules', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${localStorage.getItem('flowplane.token')}` },
        body: JSON.stringify({ name: 'echo-weather', wasm_base64: wasm, capabilities: { http_fetch: { hosts: ['api.weather.example'] } } }),
      });
      if (response.status !== 201) throw new Error(`upload: ${response.status} ${await response.text()}`);
      return (await response.json()).id;
    }, ECHO_FETCH_WASM);
    await page.goto(`${baseUrl}/modules/${moduleId}`);
    await page.getByTestId('module-editor').waitFor();
  });

  await stage('publish-the-tool', async () => {
    await page.getByTestId('module-publish').click();
    await page.getByTestId('publish-dialog').waitFor();
    await page.getByTestId('publish-slug').fill('weather-echo');
    await page.getByTestId('publish-title').fill('Weather echo');
    await page.getByTestId('publish-summary').fill('Answers the forecast request it was given');
    await page.getByTestId('publish-category').selectOption('data');
    await page.getByTestId('publish-tags').fill('weather, echo');
    await page.getByTestId('publish-readme').fill('# Weather echo\n\nGive it a **city**.\n\n<script>alert(1)</script>');
    await page.getByTestId('publish-schema').fill(CONFIG_SCHEMA);
    await page.getByTestId('publish-submit').click();
    await page.getByTestId('publish-done').waitFor();
    await page.getByTestId('publish-close').click();
  });

  await stage('browse-and-search', async () => {
    await page.getByRole('link', { name: 'Marketplace' }).click();
    await page.getByTestId('marketplace-page').waitFor();
    await page.getByTestId('listing-card-weather-echo').waitFor();
    await page.getByTestId('marketplace-search').fill('forecasts');
    await page.getByTestId('marketplace-search-submit').click();
    await page.waitForURL(/q=forecasts/);
    await page.getByTestId('listing-card-weather-echo').waitFor();
    assert.match((await page.getByTestId('listing-card-weather-echo').textContent()) ?? '', /api\.weather\.example/);
    await page.getByTestId('marketplace-search').fill('spreadsheet');
    await page.getByTestId('marketplace-search-submit').click();
    await page.getByText('Nothing found').waitFor();
    await page.getByTestId('marketplace-search').fill('forecast');
    await page.getByTestId('marketplace-search-submit').click();
    await page.getByTestId('listing-card-weather-echo').waitFor();
  });

  await stage('listing-and-install', async () => {
    await page.getByTestId('open-listing-weather-echo').click();
    await page.getByTestId('listing-page').waitFor();
    const readme = page.getByTestId('listing-readme');
    await readme.locator('h1', { hasText: 'Weather echo' }).waitFor();
    assert.equal(await readme.locator('script').count(), 0, 'no raw HTML from the README');
    assert.match((await page.getByTestId('listing-capabilities').textContent()) ?? '', /api\.weather\.example/);
    await page.getByTestId('install').click();
    await page.getByTestId('grant-dialog').waitFor();
    assert.equal(await page.getByTestId('grant-install').isDisabled(), true, 'nothing is installed before the grant');
    await page.getByTestId('grant-http_fetch').check();
    await page.getByTestId('grant-install').click();
    await page.locator('[data-testid="installed-badge"]', { hasText: 'tool:weather-echo@1.0.0' }).waitFor();
  });

  await stage('use-in-a-flow', async () => {
    await page.goto(`${baseUrl}/dashboard`);
    await page.getByTestId('create-flow').click();
    await page.getByTestId('flow-name-input').fill('forecast');
    await page.getByTestId('flow-name-submit').click();
    await page.waitForURL(/\/flow\/[^/]+$/);
    await page.getByTestId('canvas').waitFor();
    await dropFromPalette('trigger', 140, 220);
    await page.getByTestId('node-trigger').waitFor();
    await page.getByTestId('palette-tab-marketplace').click();
    await page.getByTestId('palette-tool-weather-echo').dragTo(page.getByTestId('canvas'), { targetPosition: { x: 420, y: 220 } });
    await page.getByTestId('node-code').waitFor();
    await page.getByTestId('palette-tab-builtin').click();
    await dropFromPalette('output', 700, 220);
    await page.getByTestId('node-output').waitFor();
    await connect('handle-trigger-out', 'handle-code-in');
    await connect('handle-code-out', 'handle-output-in');
    await page.getByText('3 nodes · 2 edges').waitFor();
    await page.getByTestId('node-code').click();
    assert.equal(await page.getByTestId('panel-tool-reference').inputValue(), 'tool:weather-echo@1.0.0');
    await page.getByTestId('schema-config-form').waitFor();
    await page.getByTestId('config-city').fill('Paris');
    await page.getByTestId('toolbar-save').click();
    await page.locator('[data-testid="save-status"][data-state="saved"]').waitFor();
  });

  await stage('start-and-run', async () => {
    await page.getByTestId('toolbar-start').click();
    await page.locator('[data-testid="flow-status"][data-status="running"]').waitFor({ timeout: 90_000 });
    await page.getByTestId('toolbar-run').click();
    await page.getByTestId('run-payload').fill('{"when": "tomorrow"}');
    await page.getByTestId('run-submit').click();
    await page.getByTestId('run-result').waitFor({ timeout: 60_000 });
    assert.equal(await page.getByTestId('run-status').getAttribute('data-status'), 'succeeded');
    const outputs = (await page.getByTestId('run-outputs').textContent()) ?? '';
    assert.match(outputs, /Paris/);
    assert.match(outputs, /tomorrow/);
    await page.keyboard.press('Escape');
  });

  await stage('publish-the-flow-as-a-template', async () => {
    await page.getByTestId('toolbar-stop').click();
    await page.getByTestId('toolbar-publish').click();
    await page.getByTestId('publish-dialog').waitFor();
    await page.getByTestId('publish-slug').fill('forecast-flow');
    await page.getByTestId('publish-title').fill('Forecast flow');
    await page.getByTestId('publish-summary').fill('Runs the weather echo tool on a schedule of your choice');
    await page.getByTestId('publish-submit').click();
    await page.getByTestId('publish-done').waitFor();
    await page.getByTestId('publish-close').click();
  });

  await stage('start-from-a-template', async () => {
    await page.goto(`${baseUrl}/dashboard`);
    await page.getByTestId('create-flow').click();
    await page.getByTestId('start-from-template').click();
    await page.getByTestId('marketplace-page').waitFor();
    await page.getByTestId('open-listing-forecast-flow').click();
    await page.getByTestId('use-template').click();
    await page.getByTestId('use-dialog').waitFor();
    await page.getByTestId('use-name').fill('my-forecast');
    await page.getByTestId('use-create').click();
    await page.waitForURL(/\/flow\/[^/]+$/);
    await page.getByTestId('canvas').waitFor();
    assert.equal(await page.getByTestId('flow-name').textContent(), 'my-forecast');
    await page.getByTestId('node-code').waitFor();
  });

  await stage('no-console-errors', async () => {
    assert.deepEqual(consoleErrors, []);
  });
});
