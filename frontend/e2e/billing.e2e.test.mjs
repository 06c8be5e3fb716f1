// End-to-end for plans and billing, in Debian's Chromium against the real app (`flowplane up`):
// 1. the embedded default (no Stripe): a new user creates three flows and meets no paywall;
// 2. a Stripe-configured app whose Stripe is the local stand-in (tests/standins/stripe_standin.py,
//    real HTTP, real SDK, webhooks signed with Stripe's scheme): a Free user hits the flow limit,
//    follows the 402's link to /settings/billing, upgrades through the stand-in's Checkout (which
//    sends the webhooks to the app), and creates the second flow.
// Screenshots per stage in ../test-artifacts/e2e-billing/. Same variables as editor.e2e.test.mjs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { CHROMIUM, CHROMIUM_ARGS, FLOWPLANE_BIN, FRONTEND, chromiumMissing, freePort, waitForHealth } from './harness.mjs';

const REPO = resolve(FRONTEND, '..');
const PYTHON = join(dirname(FLOWPLANE_BIN), 'python');
const ARTIFACTS = resolve(FRONTEND, '../test-artifacts/e2e-billing');
const DIST_INDEX = join(FRONTEND, 'dist', 'index.html');
const WEBHOOK_SECRET = 'whsec_e2e_standin';

if (chromiumMissing) {
  console.log(`# SKIP browser tests: Chromium not found at ${CHROMIUM} (set CHROMIUM_BIN or install chromium)`);
}

const children = [];
const dataDirs = [];
let browser = null;
let shot = 0;

/** `flowplane up` on a free port with a fresh data dir and `env`; its base URL. */
async function startApp(name, env, port) {
  const dataDir = mkdtempSync(join(tmpdir(), `flowplane-e2e-${name}-`));
  dataDirs.push(dataDir);
  const log = createWriteStream(join(ARTIFACTS, `${name}-server.log`));
  const child = spawn(FLOWPLANE_BIN, ['up', '--host', '127.0.0.1', '--port', String(port)], {
    cwd: dataDir,
    env: { ...process.env, FLOWPLANE_DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.push(child);
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const url = `http://127.0.0.1:${port}`;
  await waitForHealth(url, child, 90_000);
  return url;
}

/** The Stripe stand-in, delivering its webhooks to `webhookUrl`; its API base URL. */
async function startStripe(webhookUrl) {
  const child = spawn(
    PYTHON,
    ['-m', 'tests.standins.stripe_standin', '--webhook-url', webhookUrl, '--secret', WEBHOOK_SECRET],
    { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  children.push(child);
  const log = createWriteStream(join(ARTIFACTS, 'stripe-standin.log'));
  child.stderr.pipe(log);
  return await new Promise((resolveBase, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error('the Stripe stand-in did not start')), 30_000);
    child.stdout.on('data', (chunk) => {
      buffer += chunk.toString();
      const match = buffer.match(/STRIPE_API_BASE=(\S+)/);
      if (match) {
        clearTimeout(timer);
        resolveBase(match[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`the Stripe stand-in exited with ${code}`)));
  });
}

async function stopChild(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    child.kill('SIGTERM');
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }, 10_000);
  await exited;
  clearTimeout(timer);
}

async function newPage(consoleErrors, expected402) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const source = message.location()?.url ?? '';
    // Chrome logs the refused create (402) as a console error: that one is the point here.
    if (expected402 && /\/api\/flows$/.test(source) && /\b402\b/.test(message.text())) return;
    consoleErrors.push(`console: ${message.text()} (${source})`);
  });
  page.on('pageerror', (error) => consoleErrors.push(`page error: ${error.message}`));
  return page;
}

function stager(t, page) {
  let failed = false;
  return (name, body) =>
    t.test(name, { skip: failed && 'an earlier stage failed' }, async () => {
      try {
        await body();
        shot += 1;
        await page.screenshot({ path: join(ARTIFACTS, `${String(shot).padStart(2, '0')}-${name}.png`) });
      } catch (error) {
        failed = true;
        await page.screenshot({ path: join(ARTIFACTS, `FAILED-${name}.png`) }).catch(() => {});
        throw error;
      }
    });
}

async function signUp(page, baseUrl, label) {
  await page.goto(`${baseUrl}/signup`);
  await page.getByTestId('auth-email').fill(`${label}-${Date.now()}@example.com`);
  await page.getByTestId('auth-password').fill('correct horse battery staple');
  await page.getByTestId('auth-submit').click();
  await page.waitForURL('**/dashboard');
}

/** Create a flow from the dashboard; resolves once the editor opened it (or the dialog refused). */
async function createFlow(page, baseUrl, name) {
  await page.goto(`${baseUrl}/dashboard`);
  await page.getByTestId('create-flow').click();
  await page.getByTestId('flow-name-input').fill(name);
  await page.getByTestId('flow-name-submit').click();
}

before(async () => {
  if (chromiumMissing) return;
  assert.ok(existsSync(DIST_INDEX), 'frontend/dist is missing: run `npm --prefix frontend run build` first');
  assert.ok(existsSync(FLOWPLANE_BIN), `flowplane not found at ${FLOWPLANE_BIN} (set FLOWPLANE_BIN)`);
  rmSync(ARTIFACTS, { recursive: true, force: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: !process.env.E2E_HEADED, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close().catch(() => {});
  for (const child of children.reverse()) await stopChild(child);
  if (!process.env.E2E_KEEP_DATA) for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

test('embedded default: three flows, no paywall', { skip: chromiumMissing && 'Chromium is not installed', timeout: 300_000 }, async (t) => {
  const baseUrl = await startApp('embedded', {}, await freePort());
  const consoleErrors = [];
  const page = await newPage(consoleErrors, false);
  const stage = stager(t, page);

  await stage('embedded-signup', () => signUp(page, baseUrl, 'selfhost'));
  for (const index of [1, 2, 3]) {
    await stage(`embedded-flow-${index}`, async () => {
      await createFlow(page, baseUrl, `flow-${index}`);
      await page.waitForURL(/\/flow\/[0-9a-f]+$/);
    });
  }
  await stage('embedded-billing-page', async () => {
    await page.goto(`${baseUrl}/settings/billing`);
    assert.equal(await page.getByTestId('billing-plan').textContent(), 'Self-hosted');
    await page.getByTestId('self-hosted-note').waitFor();
    assert.match((await page.getByTestId('usage-flows').textContent()) ?? '', /3 \/ unlimited/);
    assert.equal(await page.getByTestId('quota-banner').count(), 0, 'no paywall anywhere');
  });
  await stage('embedded-members', async () => {
    await page.getByRole('link', { name: 'Members' }).click();
    await page.waitForURL('**/settings/members');
    await page.getByTestId('invite-email').fill('teammate@example.com');
    await page.getByTestId('invite-role').selectOption('viewer');
    await page.getByTestId('invite-submit').click();
    const link = (await page.getByTestId('invite-link').textContent()) ?? '';
    assert.match(link, new RegExp(`${baseUrl}/invite/fpi_[0-9a-f]+`), 'the single-use link is shown');
    // The activity log lists the flows created above.
    await page.getByTestId('audit').getByText('create flow').first().waitFor();
  });
  assert.deepEqual(consoleErrors, []);
});

test('Stripe-configured: Free limit, upgrade through Checkout, second flow', { skip: chromiumMissing && 'Chromium is not installed', timeout: 300_000 }, async (t) => {
  const port = await freePort();
  const stripeBase = await startStripe(`http://127.0.0.1:${port}/webhooks/stripe`);
  const baseUrl = await startApp(
    'stripe',
    {
      STRIPE_SECRET_KEY: 'sk_test_standin',
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      STRIPE_PRICE_PAID: 'price_paid_standin',
      STRIPE_PRICE_PRO: 'price_pro_standin',
      STRIPE_API_BASE: stripeBase,
    },
    port,
  );
  const consoleErrors = [];
  const page = await newPage(consoleErrors, true);
  const stage = stager(t, page);

  await stage('stripe-signup-free', async () => {
    await signUp(page, baseUrl, 'paying');
    assert.equal(await page.getByTestId('tenant-tier').textContent(), 'free');
  });
  await stage('stripe-first-flow', async () => {
    await createFlow(page, baseUrl, 'first');
    await page.waitForURL(/\/flow\/[0-9a-f]+$/);
  });
  await stage('stripe-limit-reached', async () => {
    await createFlow(page, baseUrl, 'second');
    await page.getByTestId('quota-banner').waitFor();
    assert.match((await page.getByTestId('quota-banner').textContent()) ?? '', /free plan allows 1 flow/);
  });
  await stage('stripe-follow-link', async () => {
    await page.getByTestId('quota-upgrade-link').click();
    await page.waitForURL('**/settings/billing');
    assert.equal(await page.getByTestId('billing-plan').textContent(), 'Free');
    assert.match((await page.getByTestId('usage-flows').textContent()) ?? '', /1 \/ 1/);
  });
  await stage('stripe-checkout', async () => {
    await page.getByTestId('upgrade-paid').click();
    await page.waitForURL(`${stripeBase}/checkout/**`);
    await page.getByRole('button', { name: 'Pay and subscribe' }).click();
    await page.waitForURL('**/settings/billing?checkout=success');
    await page.getByTestId('billing-plan').filter({ hasText: 'Paid' }).waitFor();
    await page.getByTestId('invoices').waitFor();
    await page.getByTestId('manage-billing').waitFor();
  });
  await stage('stripe-second-flow', async () => {
    await createFlow(page, baseUrl, 'second');
    await page.waitForURL(/\/flow\/[0-9a-f]+$/);
    await page.goto(`${baseUrl}/dashboard`);
    assert.equal(await page.getByTestId('tenant-tier').textContent(), 'paid');
  });
  assert.deepEqual(consoleErrors, []);
});
