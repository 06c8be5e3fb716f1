// End-to-end for durable waits: the real app (`flowplane up`) driven by Debian's Chromium. A flow
// whose second step waits for an approval: Run it from the editor, see `waiting` (and what it
// waits for) in the runs view, Approve there, see it complete with its output. Then schedule a run
// for a few seconds later from the Run dialog (a one-off schedule), see it fire and open its run,
// and cancel another before it fires.
// Screenshots per stage in ../test-artifacts/e2e-waits/ (the app and browser through harness.mjs).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chromiumMissing, stages, startApp } from './harness.mjs';

let app = null;
let page = null;
let baseUrl = '';

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
  app = await startApp('e2e-waits', { FLOWPLANE_WAIT_POLL_SECONDS: '0.2' });
  ({ page, baseUrl } = app);
  page.setDefaultTimeout(30_000);
});

after(async () => {
  await app?.close();
});

test('run a flow that waits for an approval, approve it in the runs view', { skip: chromiumMissing && 'Chromium is not installed', timeout: 300_000 }, async (t) => {
  let flowId = '';
  const { stage } = stages(t, app);

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

  await stage('schedule-later', async () => {
    await page.goto(`${baseUrl}/flow/${flowId}`);
    await page.getByTestId('toolbar-run').click();
    await page.getByTestId('run-when').selectOption('delay');
    await page.getByTestId('run-delay').fill('2');
    await page.getByTestId('run-delay-unit').selectOption('seconds');
    await page.getByTestId('run-payload').fill('{"order": "L-1"}');
    await page.getByTestId('run-schedule').click();
    await page.getByTestId('run-scheduled').waitFor();
    const soon = page.locator('[data-testid^="scheduled-run-"][data-status]').first();
    const soonId = ((await soon.getAttribute('data-testid')) ?? '').replace('scheduled-run-', '');

    await page.getByTestId('run-delay').fill('1');
    await page.getByTestId('run-delay-unit').selectOption('hours');
    await page.getByTestId('run-schedule').click();
    const later = page.locator('[data-testid^="scheduled-run-"][data-status="pending"]');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid^="scheduled-run-"][data-status]').length === 2);
    const laterId = ((await later.last().getAttribute('data-testid')) ?? '').replace('scheduled-run-', '');
    assert.notEqual(laterId, soonId);
    await page.getByTestId(`scheduled-run-cancel-${laterId}`).click();
    await page.locator(`[data-testid="scheduled-run-${laterId}"][data-status="cancelled"]`).waitFor();

    await page.locator(`[data-testid="scheduled-run-${soonId}"][data-status="fired"]`).waitFor({ timeout: 60_000 });
    await app.screenshot('scheduled-runs');
    await page.getByTestId(`scheduled-run-open-${soonId}`).click();
    await page.waitForURL(/\/runs\/[0-9a-f]+$/);
    assert.match((await page.getByTestId('execution-waiting').textContent({ timeout: 30_000 })) ?? '', /Ship order L-1\?/);
  });

  await stage('no-console-errors', async () => {
    await api(`/api/flows/${flowId}/stop`, { method: 'POST' });
    assert.deepEqual(app.consoleErrors, []);
  });
});
