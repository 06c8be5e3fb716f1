// End-to-end for custom code: the real app (`flowplane up`, Pro tier by default here) driven by
// Debian's Chromium. Write AssemblyScript in the module editor, see a type error before building,
// fix it, Build, Test on a payload, then pick the module in a flow's Code node, save, start, Run.
// Screenshots per stage in ../test-artifacts/e2e-modules/. Same variables as editor.e2e.test.mjs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CHROMIUM, CHROMIUM_ARGS, FLOWPLANE_BIN, FRONTEND, chromiumMissing, freePort, waitForHealth } from './harness.mjs';

const ARTIFACTS = resolve(FRONTEND, '../test-artifacts/e2e-modules');
const DIST_INDEX = join(FRONTEND, 'dist', 'index.html');

// The module under test: a greeting with a bug TypeScript's checker sees before any build.
const GOOD_SOURCE = `import { Value, input, log, respond, INFO } from "flowplane";
export { alloc } from "flowplane";

export function handle(pointer: usize, length: i32): i64 {
  const request = input(pointer, length);
  const name = request.payload.getString("name", "world");
  log(INFO, "greeting " + name);
  return respond(Value.object().set("greeting", Value.str("Hey, " + name + "!")));
}
`;
const TYPE_ERROR_LINE = 6;
const BAD_SOURCE = GOOD_SOURCE.replace('const name = request', 'const name: i32 = request');

if (chromiumMissing) {
  console.log(`# SKIP browser tests: Chromium not found at ${CHROMIUM} (set CHROMIUM_BIN or install chromium)`);
}

let server = null;
let baseUrl = '';
let dataDir = '';
let browser = null;
let page = null;
const consoleErrors = [];
// Chrome logs every 4xx answer as a console error; the Build with a compile error answers 422 on
// purpose, so that one is expected while its stage runs. Anything else on the console fails.
let expectRefusedBuild = false;
let shot = 0;

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

/** Replace the module's source the way a user pastes it: select all, paste. */
async function replaceSource(text) {
  await page.evaluate((value) => navigator.clipboard.writeText(value), text);
  await page.locator('[data-testid="module-code-editor"] .view-lines').click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Control+V');
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

before(async () => {
  if (chromiumMissing) return;
  assert.ok(existsSync(DIST_INDEX), 'frontend/dist is missing: run `npm --prefix frontend run build` first');
  assert.ok(existsSync(FLOWPLANE_BIN), `flowplane not found at ${FLOWPLANE_BIN} (set FLOWPLANE_BIN)`);
  rmSync(ARTIFACTS, { recursive: true, force: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), 'flowplane-e2e-modules-'));
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  const log = createWriteStream(join(ARTIFACTS, 'server.log'));
  server = spawn(FLOWPLANE_BIN, ['up', '--host', '127.0.0.1', '--port', String(port)], {
    cwd: dataDir,
    // Modules are a Pro feature: the workspace this test signs up is on Pro.
    env: { ...process.env, FLOWPLANE_DATA_DIR: dataDir, FLOWPLANE_DEFAULT_TIER: 'pro' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  server.stdout.pipe(log);
  server.stderr.pipe(log);
  await waitForHealth(baseUrl, server, 90_000);

  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: !process.env.E2E_HEADED, args: CHROMIUM_ARGS });
  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  page = await context.newPage();
  page.setDefaultTimeout(30_000);
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const source = message.location()?.url ?? '';
    if (expectRefusedBuild && /\/api\/modules\/[^/]+\/versions$/.test(source) && /\b422\b/.test(message.text())) return;
    consoleErrors.push(`console: ${message.text()} (${source})`);
  });
  page.on('pageerror', (error) => consoleErrors.push(`page error: ${error.message}`));
});

after(async () => {
  await browser?.close().catch(() => {});
  await stopServer();
  if (dataDir && !process.env.E2E_KEEP_DATA) rmSync(dataDir, { recursive: true, force: true });
});

test('write, check, build and test a module, then run it from a flow', { skip: chromiumMissing && 'Chromium is not installed', timeout: 600_000 }, async (t) => {
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

  await stage('signup', async () => {
    await page.goto(`${baseUrl}/signup`);
    await page.getByTestId('auth-email').fill(`modules-${Date.now()}@example.com`);
    await page.getByTestId('auth-password').fill('correct horse battery staple');
    await page.getByTestId('auth-submit').click();
    await page.waitForURL('**/dashboard');
  });

  await stage('new-module', async () => {
    await page.getByRole('link', { name: 'Modules' }).click();
    await page.getByTestId('modules-page').waitFor();
    await page.getByTestId('new-module').click();
    await page.getByTestId('module-name-input').fill('greeter');
    await page.getByTestId('template-json-transform').click();
    await page.getByTestId('new-module-submit').click();
    await page.waitForURL(/\/modules\/[0-9a-f]+$/, { timeout: 120_000 });
    await page.locator('[data-testid="module-code-editor"] .monaco-editor').waitFor();
    assert.equal(await page.getByTestId('module-reference').textContent(), 'wasm:greeter@1');
    // the starter template type-checks against AssemblyScript's and the SDK's definitions
    await page.getByTestId('module-types-ok').waitFor();
  });

  await stage('type-error-before-build', async () => {
    await replaceSource(BAD_SOURCE);
    await page.locator('[data-testid="module-code-editor"] .squiggly-error').first().waitFor();
    const error = await page.getByTestId('module-type-error').first().textContent();
    assert.match(error ?? '', new RegExp(`^Line ${TYPE_ERROR_LINE}: Type 'string' is not assignable to type 'number'`));
    assert.equal(await page.getByTestId('module-build-status').textContent(), '', 'nothing was built');
  });

  await stage('build-shows-compiler-errors', async () => {
    expectRefusedBuild = true;
    await page.getByTestId('module-build').click();
    const problem = page.getByTestId('module-build-problem').first();
    await problem.waitFor({ timeout: 120_000 });
    assert.match((await problem.textContent()) ?? '', new RegExp(`^Line ${TYPE_ERROR_LINE}:\\d+ .*not assignable`));
    assert.match((await page.getByTestId('module-build-status').textContent()) ?? '', /does not compile/);
    assert.equal(await page.getByTestId('module-reference').textContent(), 'wasm:greeter@1', 'no version stored');
    expectRefusedBuild = false;
  });

  await stage('fix-and-build', async () => {
    await replaceSource(GOOD_SOURCE);
    await page.getByTestId('module-types-ok').waitFor();
    await page.getByTestId('module-build').click();
    await page.getByText(/^Built version 2 in \d+ ms$/).waitFor({ timeout: 120_000 });
    await page.locator('[data-testid="module-reference"]', { hasText: 'wasm:greeter@2' }).waitFor();
    assert.equal(await page.getByTestId('module-build-problem').count(), 0);
  });

  await stage('test-run', async () => {
    await page.getByTestId('test-payload').fill('{"name": "Ada"}');
    await page.getByTestId('test-run').click();
    await page.getByTestId('test-result').waitFor({ timeout: 60_000 });
    assert.equal(await page.getByTestId('test-status').textContent(), 'Succeeded');
    assert.match((await page.getByTestId('test-output').textContent()) ?? '', /"greeting": "Hey, Ada!"/);
    assert.match((await page.getByTestId('test-fuel').textContent()) ?? '', /^[\d,]+$/);
    assert.match((await page.getByTestId('test-time').textContent()) ?? '', /^\d+\.\d+ ms$/);
    assert.match((await page.getByTestId('test-logs').textContent()) ?? '', /greeting Ada/);
    await page.getByTestId('module-tab-versions').click();
    await page.getByTestId('load-version-1').waitFor();
  });

  await stage('use-in-a-flow', async () => {
    await page.goto(`${baseUrl}/dashboard`);
    await page.getByTestId('create-flow').click();
    await page.getByTestId('flow-name-input').fill('greets');
    await page.getByTestId('flow-name-submit').click();
    await page.waitForURL(/\/flow\/[^/]+$/);
    await page.getByTestId('canvas').waitFor();
    await dropFromPalette('trigger', 140, 220);
    await page.getByTestId('node-trigger').waitFor();
    await dropFromPalette('code', 420, 220);
    await page.getByTestId('node-code').waitFor();
    await dropFromPalette('output', 700, 220);
    await page.getByTestId('node-output').waitFor();
    await connect('handle-trigger-out', 'handle-code-in');
    await connect('handle-code-out', 'handle-output-in');
    await page.getByText('3 nodes · 2 edges').waitFor();
    await page.getByTestId('node-code').click();
    await page.getByTestId('panel-code-module').selectOption('greeter');
    assert.equal(await page.getByTestId('panel-code-version').inputValue(), '2');
    assert.match((await page.getByTestId('panel-code-edit').getAttribute('href')) ?? '', /^\/modules\/[0-9a-f]+$/);
    await page.getByTestId('toolbar-save').click();
    await page.locator('[data-testid="save-status"][data-state="saved"]').waitFor();
  });

  await stage('start-and-run', async () => {
    await page.getByTestId('toolbar-start').click();
    await page.locator('[data-testid="flow-status"][data-status="running"]').waitFor({ timeout: 90_000 });
    await page.getByTestId('toolbar-run').click();
    await page.getByTestId('run-payload').fill('{"name": "Grace"}');
    await page.getByTestId('run-submit').click();
    await page.getByTestId('run-result').waitFor({ timeout: 60_000 });
    assert.equal(await page.getByTestId('run-status').getAttribute('data-status'), 'succeeded');
    assert.match((await page.getByTestId('run-outputs').textContent()) ?? '', /Hey, Grace!/);
  });

  await stage('no-console-errors', async () => {
    assert.deepEqual(consoleErrors, []);
  });
});
