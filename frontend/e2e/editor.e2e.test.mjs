// End-to-end: the real app (`flowplane up` on a fresh data dir) driven by Debian's Chromium
// through playwright-core. One scenario, one screenshot per stage in ../test-artifacts/e2e/.
//
//   npm run test:e2e            (after `npm run build`; the control plane serves frontend/dist)
//
// Environment: FLOWPLANE_BIN (default ../.venv/bin/flowplane), CHROMIUM_BIN (default
// /usr/bin/chromium), E2E_KEEP_DATA=1 keeps the data dir, E2E_HEADED=1 shows the browser.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CHROMIUM, CHROMIUM_ARGS, FLOWPLANE_BIN, FRONTEND, chromiumMissing, freePort, sleep, waitForHealth } from './harness.mjs';

const ARTIFACTS = resolve(FRONTEND, '../test-artifacts/e2e');
const DIST_INDEX = join(FRONTEND, 'dist', 'index.html');

if (chromiumMissing) {
  console.log(`# SKIP browser tests: Chromium not found at ${CHROMIUM} (set CHROMIUM_BIN or install chromium)`);
}

let server = null;
let baseUrl = '';
let dataDir = '';
let browser = null;
let page = null;
const consoleErrors = [];
// Chrome reports a Server-Sent Events response that the server cut off mid-stream as a console
// error. The log panel reconnects (resuming with Last-Event-ID), so a dropped log stream is
// reported as a diagnostic, not a failure; anything else on the console fails the test, a
// Content-Security-Policy violation included (the app sends its policy on every page).
const droppedLogStreams = [];
// No request may carry a token in its URL (access logs and history would keep it).
const tokenUrls = [];
let shot = 0;

async function stopServer() {
  if (!server || server.exitCode !== null) return;
  const exited = new Promise((done) => server.once('exit', done));
  try {
    process.kill(-server.pid, 'SIGTERM'); // the whole group: uvicorn and the pumps it started
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
  const file = join(ARTIFACTS, `${String(shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
  return file;
}

/** The YAML in Monaco, line by line in document order (Monaco renders lines absolutely positioned). */
async function monacoText() {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll('[data-testid="yaml-editor"] .view-lines .view-line'))
      .map((line) => ({ top: parseFloat(line.style.top || '0'), text: (line.textContent || '').replace(/\u00a0/g, ' ') }))
      .sort((a, b) => a.top - b.top)
      .map((line) => line.text)
      .join('\n'),
  );
}

async function waitForMonacoText(predicate, description, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = await monacoText();
    if (predicate(text)) return text;
    await sleep(200);
  }
  throw new Error(`YAML never showed ${description}; it was:\n${text}`);
}

/** Replaces the whole YAML document the way a user would: select all, paste from the clipboard.
 * (Typing would go through Monaco's auto-indent, which is right for people and wrong for a script.) */
async function replaceYaml(text) {
  await page.evaluate((value) => navigator.clipboard.writeText(value), text);
  await page.locator('[data-testid="yaml-editor"] .view-lines').click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Control+V');
}

async function center(locator) {
  const box = await locator.boundingBox();
  assert.ok(box, 'element is not visible');
  return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
}

/** Draws an edge the way a user does: press on the source handle, move, release on the target handle. */
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
  const canvas = page.getByTestId('canvas');
  await page.getByTestId(`palette-${kind}`).dragTo(canvas, { targetPosition: { x, y } });
}

before(async () => {
  if (chromiumMissing) return;
  assert.ok(existsSync(DIST_INDEX), `frontend/dist is missing: run \`npm --prefix frontend run build\` first`);
  assert.ok(existsSync(FLOWPLANE_BIN), `flowplane not found at ${FLOWPLANE_BIN} (set FLOWPLANE_BIN)`);
  rmSync(ARTIFACTS, { recursive: true, force: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), 'flowplane-e2e-'));
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  const log = createWriteStream(join(ARTIFACTS, 'server.log'));
  server = spawn(FLOWPLANE_BIN, ['up', '--host', '127.0.0.1', '--port', String(port)], {
    cwd: dataDir,
    env: { ...process.env, FLOWPLANE_DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  server.stdout.pipe(log);
  server.stderr.pipe(log);
  await waitForHealth(baseUrl, server, 90_000);

  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: !process.env.E2E_HEADED,
    args: CHROMIUM_ARGS,
  });
  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  page = await context.newPage();
  page.setDefaultTimeout(20_000);
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const source = message.location()?.url ?? '';
    if (/\/api\/flows\/[^/]+\/logs\b/.test(source) && /ERR_INCOMPLETE_CHUNKED_ENCODING/.test(message.text())) {
      droppedLogStreams.push(source.replace(/token=[^&]+/, 'token=…'));
      return;
    }
    consoleErrors.push(`console: ${message.text()} (${source})`);
  });
  page.on('pageerror', (error) => consoleErrors.push(`page error: ${error.message}`));
  page.on('request', (request) => {
    if (/[?&](token|access_token)=/.test(request.url())) tokenUrls.push(request.url().replace(/token=[^&]+/, 'token=…'));
  });
});

after(async () => {
  await browser?.close().catch(() => {});
  await stopServer();
  if (dataDir && !process.env.E2E_KEEP_DATA) rmSync(dataDir, { recursive: true, force: true });
});

test('draw, edit as YAML, save, start, run, inspect and stop a flow', { skip: chromiumMissing && 'Chromium is not installed', timeout: 300_000 }, async (t) => {
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

  let flowUrl = '';

  await stage('signup', async () => {
    await page.goto(`${baseUrl}/signup`);
    await page.getByTestId('auth-email').fill(`e2e-${Date.now()}@example.com`);
    await page.getByTestId('auth-password').fill('correct horse battery staple');
    await page.getByTestId('auth-submit').click();
    await page.waitForURL('**/dashboard');
    await page.getByTestId('flows-empty').waitFor();
  });

  await stage('create-flow', async () => {
    await page.getByTestId('create-flow').click();
    await page.getByTestId('flow-name-input').fill('e2e-demo');
    await page.getByTestId('flow-description-input').fill('Made by the browser test');
    await page.getByTestId('flow-name-submit').click();
    await page.waitForURL(/\/flow\/[^/]+$/);
    flowUrl = page.url();
    await page.getByTestId('canvas').waitFor();
    await page.getByText('0 nodes · 0 edges').waitFor();
  });

  await stage('draw', async () => {
    await dropFromPalette('trigger', 140, 220);
    await page.getByTestId('node-trigger').waitFor();
    await dropFromPalette('transform', 420, 220);
    await page.getByTestId('node-transform').waitFor();
    await dropFromPalette('output', 700, 220);
    await page.getByTestId('node-output').waitFor();
    // keyboard delete, undo and redo
    await dropFromPalette('llm', 420, 420);
    await page.getByTestId('node-llm').click();
    await page.getByText('4 nodes · 0 edges').waitFor();
    await page.keyboard.press('Delete');
    await page.getByText('3 nodes · 0 edges').waitFor();
    await page.keyboard.press('Control+Z');
    await page.getByTestId('node-llm').waitFor();
    await page.keyboard.press('Control+Shift+Z');
    await page.getByTestId('node-llm').waitFor({ state: 'detached' });
    await connect('handle-trigger-out', 'handle-transform-in');
    await connect('handle-transform-out', 'handle-output-in');
    await page.getByText('3 nodes · 2 edges').waitFor();
    await page.locator('.react-flow__edge').nth(1).waitFor({ state: 'attached' });
    assert.equal(await page.locator('.react-flow__edge').count(), 2);
    assert.equal(await page.getByTestId('save-status').getAttribute('data-state'), 'dirty');
    // leaving with unsaved changes asks first
    await page.getByLabel('Back to flows').click();
    await page.getByTestId('unsaved-dialog').waitFor();
    await page.getByRole('button', { name: 'Stay' }).click();
    await page.getByTestId('unsaved-dialog').waitFor({ state: 'detached' });
    assert.equal(page.url(), flowUrl);
  });

  await stage('yaml-view', async () => {
    await page.getByTestId('view-yaml').click();
    await page.locator('[data-testid="yaml-editor"] .monaco-editor').waitFor();
    const text = await waitForMonacoText(
      (yaml) => /- name: trigger/.test(yaml) && /- name: transform/.test(yaml) && /- name: output/.test(yaml),
      'the trigger and both listeners',
    );
    assert.match(text, /target: transform/);
    assert.match(text, /peers: \[output\]/);
    assert.match(text, /handler: builtin\.transform/);
    await page.getByTestId('yaml-ok').waitFor();
  });

  let renamedYaml = '';
  await stage('yaml-rename', async () => {
    await page.getByTestId('view-split').click();
    await page.getByTestId('canvas').waitFor();
    const text = await monacoText();
    renamedYaml = `${text.replace('- name: transform', '- name: reshape').replace('target: transform', 'target: reshape')}\n`;
    await replaceYaml(renamedYaml);
    await page.getByTestId('node-reshape').waitFor();
    await page.getByTestId('node-transform').waitFor({ state: 'detached' });
    await page.getByText('3 nodes · 2 edges').waitFor();
    await waitForMonacoText((yaml) => yaml.includes('target: reshape'), 'the renamed target');
  });

  await stage('yaml-error', async () => {
    await replaceYaml(renamedYaml.replace('peers: [output]', 'peers: [output'));
    await page.getByTestId('yaml-problem').first().waitFor();
    await page.locator('[data-testid="yaml-editor"] .squiggly-error').first().waitFor();
    const problem = await page.getByTestId('yaml-problem').first().textContent();
    assert.match(problem ?? '', /^line \d+:/);
    // the canvas keeps the last good flow while the YAML is broken
    await page.getByTestId('node-reshape').waitFor();
  });

  await stage('yaml-fixed', async () => {
    await replaceYaml(renamedYaml);
    await page.getByTestId('yaml-ok').waitFor();
    assert.equal(await page.locator('[data-testid="yaml-editor"] .squiggly-error').count(), 0);
  });

  await stage('yaml-undo', async () => {
    // One paste is one undo step, in Monaco and on the canvas, and the text comes back as written.
    const written = `# kept as written\n${renamedYaml}`;
    const pasted = written.replace('- name: output', '- name: sink').replace('peers: [output]', 'peers: [sink]');
    const shows = (text) => (yaml) => yaml.trimEnd() === text.trimEnd();
    await replaceYaml(written);
    await waitForMonacoText(shows(written), 'the commented YAML');
    await page.getByTestId('yaml-ok').waitFor();
    await replaceYaml(pasted);
    await page.getByTestId('node-sink').waitFor();
    await page.keyboard.press('Control+Z'); // in Monaco
    await waitForMonacoText(shows(written), 'the text before the paste');
    await page.getByTestId('node-output').waitFor();

    await replaceYaml(pasted);
    await page.getByTestId('node-sink').waitFor();
    await page.getByTestId('node-trigger').click();
    await page.keyboard.press('Control+Z'); // on the canvas
    await page.getByTestId('node-output').waitFor();
    await waitForMonacoText(shows(written), 'the text before the paste, comment included');
    await page.keyboard.press('Control+Shift+Z');
    await page.getByTestId('node-sink').waitFor();
    await waitForMonacoText(shows(pasted), 'the pasted text again');
    await page.keyboard.press('Control+Z');
    await page.getByTestId('node-output').waitFor();
    await waitForMonacoText(shows(written), 'the commented YAML again');
  });

  await stage('save', async () => {
    await page.getByTestId('toolbar-save').click();
    await page.locator('[data-testid="save-status"][data-state="saved"]').waitFor();
    // what was written by hand is stored as written
    await page.reload();
    await page.getByTestId('view-yaml').click();
    await page.locator('[data-testid="yaml-editor"] .monaco-editor').waitFor();
    await waitForMonacoText((yaml) => yaml.startsWith('# kept as written\n'), 'the saved YAML as written');
    await page.getByTestId('view-canvas').click();
    await page.getByTestId('node-reshape').waitFor();
  });

  await stage('start', async () => {
    await page.getByTestId('toolbar-start').click();
    await page.locator('[data-testid="flow-status"][data-status="running"]').waitFor({ timeout: 90_000 });
    await page.locator('[data-testid="toolbar-stop"]:not([disabled])').waitFor();
  });

  let timelineHref = '';
  await stage('run', async () => {
    await page.getByTestId('toolbar-run').click();
    await page.getByTestId('run-payload').fill('{"hello": "e2e"}');
    await page.getByTestId('run-submit').click();
    await page.getByTestId('run-result').waitFor({ timeout: 60_000 });
    assert.equal(await page.getByTestId('run-status').getAttribute('data-status'), 'succeeded');
    const outputs = await page.getByTestId('run-outputs').textContent();
    assert.match(outputs ?? '', /"hello": "e2e"/);
    timelineHref = (await page.getByTestId('run-open-timeline').getAttribute('href')) ?? '';
    assert.match(timelineHref, /\/runs\/[^/]+$/);
  });

  await stage('timeline', async () => {
    await page.getByTestId('run-open-timeline').click();
    await page.waitForURL(`**${timelineHref}`);
    await page.getByTestId('execution-timeline').waitFor();
    await page.locator('[data-testid="execution-status"][data-status="succeeded"]').waitFor({ timeout: 30_000 });
    await page.getByTestId('step-reshape').waitFor();
    await page.getByTestId('step-output').waitFor();
    assert.match((await page.getByTestId('execution-outputs').textContent()) ?? '', /"hello": "e2e"/);
    assert.equal(await page.getByTestId('step-duration').count(), 2);
  });

  await stage('webhook', async () => {
    await page.goto(flowUrl);
    await page.getByTestId('node-reshape').waitFor();
    await page.getByTestId('panel-tab-flow').click();
    await page.getByTestId('flow-panel').waitFor();
    // the webhook panel shows only for flows with a webhook trigger (e2e/editor-n8n covers it)
    assert.equal(await page.getByTestId('webhook-section').count(), 0);
  });

  await stage('stop', async () => {
    await page.locator('[data-testid="flow-status"][data-status="running"]').waitFor();
    await page.getByTestId('toolbar-stop').click();
    await page.locator('[data-testid="flow-status"][data-status="stopped"]').waitFor({ timeout: 60_000 });
  });

  await stage('dashboard', async () => {
    await page.getByLabel('Back to flows').click();
    const row = page.getByTestId('flow-row-e2e-demo');
    await row.waitFor();
    await row.getByText('stopped').waitFor();
    await row.getByText('succeeded').waitFor();
    // one execution this month, of the plan's allowance (the embedded default's plan has no cap)
    await row.getByText(/^1 \/ (∞|[\d,]+)$/).waitFor();
  });

  await stage('api-keys', async () => {
    await page.goto(`${baseUrl}/settings`);
    await page.getByTestId('api-key-name').fill('ci');
    await page.getByTestId('api-key-create').click();
    const key = (await page.getByTestId('api-key-value').textContent()) ?? '';
    assert.ok(key.length > 16, 'the new key is shown once');
    await page.getByRole('button', { name: 'Done' }).click();
    await page.getByTestId('api-keys-table').getByText('ci', { exact: true }).waitFor();
  });

  await stage('narrow-screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(flowUrl);
    await page.getByTestId('node-reshape').waitFor();
    await page.getByTestId('toolbar-save').waitFor();
    const canvasBox = await page.getByTestId('canvas').boundingBox();
    assert.ok(canvasBox && canvasBox.width > 300 && canvasBox.height > 300, 'the canvas keeps a usable size');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no horizontal scrolling (${overflow}px too wide)`);
  });

  await t.test('no console errors', { skip: failed && 'an earlier stage failed' }, (check) => {
    if (droppedLogStreams.length) {
      check.diagnostic(`the server cut the live log stream ${droppedLogStreams.length} time(s); the panel reconnected`);
    }
    assert.deepEqual(consoleErrors, []);
    assert.deepEqual(tokenUrls, []);
  });
});
