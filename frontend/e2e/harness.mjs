// Shared by browser specs: start the real app once per spec file (`flowplane up` on a fresh data
// dir and a free port), drive Debian's Chromium with playwright-core, screenshot every stage.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FRONTEND = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
export const FLOWPLANE_BIN = resolve(FRONTEND, process.env.FLOWPLANE_BIN || '../.venv/bin/flowplane');
export const CHROMIUM_ARGS = [
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

export const chromiumMissing = !existsSync(CHROMIUM);
export const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

export function freePort() {
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

export async function waitForHealth(url, child, timeoutMs) {
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

/** Starts the app and a browser page; `close()` stops both. Console errors are collected. */
export async function startApp(artifactsName, env = {}) {
  const artifacts = resolve(FRONTEND, `../test-artifacts/${artifactsName}`);
  assert.ok(existsSync(join(FRONTEND, 'dist', 'index.html')), 'frontend/dist is missing: run `npm run build` first');
  assert.ok(existsSync(FLOWPLANE_BIN), `flowplane not found at ${FLOWPLANE_BIN} (set FLOWPLANE_BIN)`);
  rmSync(artifacts, { recursive: true, force: true });
  mkdirSync(artifacts, { recursive: true });
  const dataDir = mkdtempSync(join(tmpdir(), 'flowplane-e2e-'));
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const log = createWriteStream(join(artifacts, 'server.log'));
  const server = spawn(FLOWPLANE_BIN, ['up', '--host', '127.0.0.1', '--port', String(port)], {
    cwd: dataDir,
    env: { ...process.env, FLOWPLANE_DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stdout = '';
  server.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  server.stdout.pipe(log);
  server.stderr.pipe(log);
  await waitForHealth(baseUrl, server, 90_000);

  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: !process.env.E2E_HEADED, args: CHROMIUM_ARGS });
  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    permissions: ['clipboard-read', 'clipboard-write'],
    acceptDownloads: true,
  });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const consoleErrors = [];
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const source = message.location()?.url ?? '';
    // A live-log SSE stream cut by the server: the panel reconnects (see frontend/README).
    if (/\/api\/flows\/[^/]+\/logs\b/.test(source) && /ERR_INCOMPLETE_CHUNKED_ENCODING/.test(message.text())) return;
    consoleErrors.push(`console: ${message.text()} (${source})`);
  });
  page.on('pageerror', (error) => consoleErrors.push(`page error: ${error.message}`));

  let shot = 0;
  async function screenshot(name) {
    shot += 1;
    await page.screenshot({ path: join(artifacts, `${String(shot).padStart(2, '0')}-${name}.png`) });
  }

  async function close() {
    await browser.close().catch(() => {});
    if (server.exitCode === null) {
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
          /* gone */
        }
      }, 10_000);
      await exited;
      clearTimeout(timer);
    }
    if (!process.env.E2E_KEEP_DATA) rmSync(dataDir, { recursive: true, force: true });
  }

  return { baseUrl, page, context, artifacts, dataDir, consoleErrors, screenshot, close, stdout: () => stdout };
}

/** Stages of one scenario: later stages are skipped once one fails; each ends with a screenshot. */
export function stages(t, app) {
  let failed = false;
  const stage = (name, body) =>
    t.test(name, { skip: failed && 'an earlier stage failed' }, async () => {
      try {
        await body();
        await app.screenshot(name);
      } catch (error) {
        failed = true;
        await app.screenshot(`FAILED-${name}`).catch(() => {});
        throw error;
      }
    });
  return { stage, failed: () => failed };
}

export async function center(page, locator) {
  const box = await locator.boundingBox();
  assert.ok(box, 'element is not visible');
  return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
}

/** Draws an edge with the mouse: press on the source handle, move, release on the target. */
export async function connect(page, sourceHandle, targetHandle) {
  const from = await center(page, page.getByTestId(sourceHandle));
  const to = await center(page, page.getByTestId(targetHandle));
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  await page.mouse.move((from.x + to.x) / 2, (from.y + to.y) / 2 + 20, { steps: 8 });
  await page.mouse.move(to.x, to.y, { steps: 8 });
  await page.mouse.up();
}

/** No two of the locators' boxes overlap. */
export async function assertNoOverlap(page, selector) {
  const boxes = await page.locator(selector).evaluateAll((elements) =>
    elements.map((element) => {
      const rect = element.getBoundingClientRect();
      return { id: element.getAttribute('data-testid'), x: rect.x, y: rect.y, w: rect.width, h: rect.height };
    }),
  );
  for (let i = 0; i < boxes.length; i += 1) {
    for (let j = i + 1; j < boxes.length; j += 1) {
      const a = boxes[i];
      const b = boxes[j];
      const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
      assert.ok(!overlap, `${a.id} overlaps ${b.id}`);
    }
  }
  return boxes;
}

/** The YAML in Monaco, line by line in document order (Monaco positions lines absolutely). */
export async function monacoText(page) {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll('[data-testid="yaml-editor"] .view-lines .view-line'))
      .map((line) => ({ top: parseFloat(line.style.top || '0'), text: (line.textContent || '').replace(/\u00a0/g, ' ') }))
      .sort((a, b) => a.top - b.top)
      .map((line) => line.text)
      .join('\n'),
  );
}
