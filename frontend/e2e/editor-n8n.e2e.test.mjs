// Issue 15 in real Chromium, one app for the whole file: starters, the webhook URL after a
// reload, secrets, Start and run, data on the canvas, samples, logs by execution, a rolling
// redeploy on save, one-step undo, copy/duplicate, palette search, expression preview,
// versions, export/import, runs across flows, offline /docs, dialogs and small screens.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertNoOverlap, chromiumMissing, monacoText, sleep, stages, startApp } from './harness.mjs';

let app = null;

before(async () => {
  if (!chromiumMissing) app = await startApp('e2e-editor-n8n', { FLOWPLANE_DEFAULT_TIER: 'pro' });
});

after(async () => {
  await app?.close();
});

test('what an n8n user reaches for, and the defects a new user hit', { skip: chromiumMissing && 'Chromium is not installed', timeout: 420_000 }, async (t) => {
  const { page, baseUrl } = app;
  const { stage, failed } = stages(t, app);
  let flowUrl = '';
  const footer = (text) => page.getByTestId('footer-count').filter({ hasText: text }).waitFor();

  await stage('up-prints-url', async () => {
    assert.match(app.stdout(), /Flowplane is ready at http:\/\/localhost:\d+ \(API docs: http:\/\/localhost:\d+\/docs\)/);
  });

  await stage('signup', async () => {
    await page.goto(`${baseUrl}/signup`);
    await page.getByTestId('auth-email').fill(`n8n-${Date.now()}@example.com`);
    await page.getByTestId('auth-password').fill('correct horse battery staple');
    await page.getByTestId('auth-submit').click();
    await page.waitForURL('**/dashboard');
  });

  await stage('empty-flow-problems', async () => {
    await page.getByTestId('create-flow').click();
    await page.getByTestId('flow-name-input').fill('empty-one');
    await page.getByTestId('flow-name-submit').click();
    await page.waitForURL(/\/flow\/[^/]+$/);
    await page.getByTestId('panel-tab-flow').click();
    const warnings = (await page.getByTestId('flow-warnings').textContent()) ?? '';
    assert.match(warnings, /No trigger/);
    assert.match(warnings, /No steps/);
    assert.equal(await page.getByTestId('webhook-section').count(), 0, 'no webhook panel without a webhook trigger');
    await page.getByLabel('Back to flows').click();
    await page.waitForURL('**/dashboard');
  });

  await stage('starter', async () => {
    await page.getByTestId('create-flow').click();
    await page.getByTestId('flow-name-input').fill('hooks');
    await page.getByTestId('starter-1-webhook-transform-http').check();
    await page.getByTestId('flow-name-submit').click();
    await page.waitForURL(/\/flow\/[^/]+$/);
    flowUrl = page.url();
    for (const name of ['inbound', 'run', 'reshape', 'forward', 'done']) await page.getByTestId(`node-${name}`).waitFor();
    await footer('5 nodes · 4 edges');
    await assertNoOverlap(page, '.react-flow__node');
    // YAML written by hand (here: the starter's, with its comment) is shown as written
    await page.getByTestId('view-yaml').click();
    await page.locator('[data-testid="yaml-editor"] .monaco-editor').waitFor();
    await page.waitForFunction(() => document.querySelector('[data-testid="yaml-editor"] .view-lines')?.textContent?.includes('# title: Webhook'));
    assert.match(await monacoText(page), /^# title: Webhook → transform → HTTP/);
    assert.match(await page.getByTestId('sync-status').textContent(), /YAML in sync/);
    await page.getByTestId('view-canvas').click();
    await page.getByTestId('node-reshape').waitFor();
  });

  await stage('webhook-url-survives-reload', async () => {
    await page.getByTestId('panel-tab-flow').click();
    await page.getByTestId('webhook-rotate').click();
    const url = (await page.getByTestId('webhook-url').textContent()) ?? '';
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/api\/triggers\/[^/]+\/webhook\/[A-Za-z0-9_-]{20,}$/);
    const curl = (await page.getByTestId('webhook-curl').textContent()) ?? '';
    assert.ok(curl.includes(url) && curl.includes('Idempotency-Key'), curl);
    await page.reload();
    await page.getByTestId('panel-tab-flow').click();
    assert.equal(await page.getByTestId('webhook-url').textContent(), url);
    await page.getByTestId('webhook-copy').waitFor();
  });

  await stage('secrets', async () => {
    await page.getByTestId('secret-name').fill('API_TOKEN');
    await page.getByTestId('secret-value').fill('s3cr3t-value');
    await page.getByTestId('secret-save').click();
    await page.getByTestId('secret-names').getByText('API_TOKEN').waitFor();
    assert.ok(!((await page.getByTestId('secrets-section').textContent()) ?? '').includes('s3cr3t-value'));
    await page.getByTestId('node-forward').click();
    await page.getByTestId('panel-tab-node').click();
    const hint = (await page.locator('.field', { has: page.getByTestId('panel-http-headers') }).textContent()) ?? '';
    assert.ok(hint.includes('${secrets.API_TOKEN}'), hint);
    await page.getByTestId('panel-http-url').fill('http://10.255.255.1/blocked');
  });

  let failedRun = '';
  await stage('start-and-run', async () => {
    await page.getByTestId('toolbar-run').click();
    await page.getByTestId('run-not-running').waitFor();
    assert.equal(await page.getByTestId('run-submit').count(), 0, 'a stopped flow offers Start and run, not Run');
    await page.getByTestId('run-payload').fill('{"name": "ada"}');
    await page.getByTestId('run-start-and-run').click();
    await page.getByTestId('run-result').waitFor({ timeout: 90_000 });
    assert.equal(await page.getByTestId('run-status').getAttribute('data-status'), 'failed');
    assert.match((await page.getByTestId('run-error-detail').textContent()) ?? '', /FLOWPLANE_PUMP_HTTP_ALLOWLIST/);
    failedRun = ((await page.getByTestId('run-open-timeline').getAttribute('href')) ?? '').split('/').pop();
    // samples: saved under a name, chosen again next time
    await page.getByTestId('run-sample-name').fill('ada');
    await page.getByTestId('run-sample-save').click();
    await page.getByTestId('run-sample-note').filter({ hasText: 'Saved as "ada"' }).waitFor();
    await page.keyboard.press('Escape');
    await page.getByTestId('run-dialog').waitFor({ state: 'detached' });
  });

  await stage('data-on-canvas', async () => {
    await page.locator('[data-testid="node-forward"][data-run="failed"]').waitFor();
    await page.getByTestId('node-run-forward').filter({ hasText: 'failed' }).waitFor();
    await page.getByTestId('node-reshape').click();
    await page.getByTestId('panel-tab-node').click();
    assert.match((await page.getByTestId('node-last-input').textContent()) ?? '', /"name": "ada"/);
    assert.match((await page.getByTestId('node-last-output').textContent()) ?? '', /"source": "webhook"/);
  });

  await stage('logs-by-execution', async () => {
    const lines = page.getByTestId('log-lines');
    await lines.getByText(/execution started by trigger 'run'/).first().waitFor({ timeout: 30_000 });
    await lines.getByText(/step \d+ 'forward' failed \(.*FLOWPLANE_PUMP_HTTP_ALLOWLIST/).first().waitFor();
    await page.getByTestId('log-filter').selectOption(failedRun);
    const executions = await lines.locator('li.log-line').evaluateAll((items) => items.map((item) => item.getAttribute('data-execution')));
    assert.ok(executions.length >= 3 && executions.every((id) => id === failedRun), JSON.stringify(executions));
    await page.getByTestId('log-filter').selectOption('');
  });

  await stage('undo-is-one-step', async () => {
    await page.getByTestId('node-forward').click();
    await page.keyboard.press('Delete');
    await footer('4 nodes · 2 edges');
    await page.keyboard.press('Control+Z');
    await footer('5 nodes · 4 edges');
    await page.keyboard.press('Control+Shift+Z');
    await footer('4 nodes · 2 edges');
    // connect without the mouse: the node panel's Connect
    await page.getByTestId('node-reshape').click();
    await page.getByTestId('panel-tab-node').click();
    await page.getByTestId('panel-connect-target').selectOption({ label: 'done' });
    await page.getByTestId('panel-connect').focus();
    await page.keyboard.press('Enter');
    await footer('4 nodes · 3 edges');
  });

  await stage('rolling-redeploy', async () => {
    await page.locator('[data-testid="flow-status"][data-status="running"]').waitFor({ timeout: 60_000 });
    await page.getByTestId('live-version').filter({ hasText: 'live v2' }).waitFor();
    await page.getByTestId('toolbar-save').click();
    await page.locator('[data-testid="save-status"][data-state="saved"]').waitFor();
    // the save rolled the pump: the editor shows the live version, not an outdated one
    const live = page.getByTestId('live-version');
    await live.filter({ hasText: /^live v3$/ }).waitFor({ timeout: 30_000 });
    await page.getByTestId('toolbar-run').click();
    await page.getByTestId('run-sample').waitFor();
    assert.equal(await page.getByTestId('run-sample').inputValue(), 'ada', 'the last sample is chosen again');
    await page.waitForFunction(() => document.querySelector('[data-testid="run-payload"]')?.value.includes('"name": "ada"'));
    await page.getByTestId('run-submit').click();
    await page.getByTestId('run-result').waitFor({ timeout: 60_000 });
    assert.equal(await page.getByTestId('run-status').getAttribute('data-status'), 'succeeded');
    assert.match((await page.getByTestId('run-outputs').textContent()) ?? '', /"source": "webhook"/);
    await page.keyboard.press('Escape');
    await page.locator('[data-testid="node-done"][data-run="succeeded"]').waitFor();
  });

  await stage('expression-preview', async () => {
    await page.getByTestId('node-done').click();
    await page.getByTestId('panel-tab-node').click();
    await page.getByTestId('panel-output-expression').fill('payload.received.name');
    await page.getByTestId('panel-output-preview').filter({ hasText: '"ada"' }).waitFor();
    const options = await page.locator('datalist option').evaluateAll((items) => items.map((item) => item.getAttribute('value')));
    assert.ok(options.includes('payload.received.name'), JSON.stringify(options));
    await page.getByTestId('toolbar-undo').click();
    await page.locator('[data-testid="save-status"][data-state="saved"]').waitFor();
  });

  await stage('copy-duplicate-palette-search', async () => {
    await page.getByTestId('node-reshape').click();
    await page.keyboard.press('Control+D');
    await page.getByTestId('node-reshape_2').waitFor();
    await footer('5 nodes');
    await page.getByTestId('node-reshape_2').click({ button: 'right' });
    await page.getByTestId('node-menu-delete').click();
    await page.getByTestId('node-reshape_2').waitFor({ state: 'detached' });
    await page.getByTestId('node-reshape').click();
    await page.keyboard.press('Control+C');
    await page.keyboard.press('Control+V');
    await page.getByTestId('node-reshape_2').waitFor();
    await page.getByTestId('toolbar-undo').click();
    await page.getByTestId('node-reshape_2').waitFor({ state: 'detached' });
    await page.getByTestId('palette-search').fill('http');
    assert.equal(await page.getByTestId('palette-llm').count(), 0);
    await page.getByTestId('palette-search').press('Enter');
    await page.getByTestId('node-http').waitFor();
    await page.getByTestId('palette-search').fill('');
    await page.getByTestId('palette-output').click();
    await page.getByTestId('node-output').waitFor();
    await assertNoOverlap(page, '.react-flow__node');
    await page.getByTestId('toolbar-undo').click();
    await page.getByTestId('toolbar-undo').click();
    await page.locator('[data-testid="save-status"][data-state="saved"]').waitFor();
  });

  await stage('versions', async () => {
    await page.getByTestId('panel-tab-flow').click();
    await page.getByTestId('version-1').click();
    await page.getByTestId('version-dialog').waitFor();
    assert.match((await page.getByTestId('version-diff').textContent()) ?? '', /- .*forward/);
    await page.getByTestId('version-restore').click();
    await page.getByTestId('version-dialog').waitFor({ state: 'detached' });
    await page.getByTestId('node-forward').waitFor();
    await footer('5 nodes · 4 edges');
    await page.getByTestId('live-version').filter({ hasText: /^live v4$/ }).waitFor({ timeout: 30_000 });
  });

  let exported = '';
  await stage('export', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('toolbar-export').click()]);
    assert.equal(download.suggestedFilename(), 'hooks.flow.yaml');
    exported = join(app.artifacts, 'hooks.flow.yaml');
    copyFileSync(await download.path(), exported);
    const text = readFileSync(exported, 'utf8');
    assert.match(text, /name: hooks/);
    assert.match(text, /--- # flowplane canvas\ncanvas_state: \{/);
  });

  await stage('import', async () => {
    await page.getByLabel('Back to flows').click();
    await page.waitForURL('**/dashboard');
    await page.getByTestId('create-flow').click();
    await page.getByTestId('flow-name-input').fill('imported');
    await page.getByTestId('flow-import-file').setInputFiles(exported);
    await page.getByTestId('flow-name-submit').click();
    await page.waitForURL(/\/flow\/[^/]+$/);
    assert.notEqual(page.url(), flowUrl);
    await page.getByTestId('node-forward').waitFor();
    assert.equal(await page.getByTestId('flow-name').textContent(), 'imported');
  });

  await stage('runs-across-flows', async () => {
    await page.goto(`${baseUrl}/runs`);
    await page.getByTestId('runs-table').waitFor();
    assert.ok((await page.locator('[data-testid^="run-row-"]').count()) >= 2);
    await page.getByTestId('runs-filter-status').selectOption('failed');
    await page.getByTestId(`run-row-${failedRun}`).waitFor();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid^="run-row-"]').length === 1);
    await page.getByTestId('runs-filter-status').selectOption('');
    await page.getByTestId('runs-filter-trigger').selectOption('schedule');
    await page.getByTestId('runs-empty').waitFor();
  });

  await stage('docs-offline', async () => {
    const foreign = [];
    const listener = (request) => {
      if (!request.url().startsWith(baseUrl)) foreign.push(request.url());
    };
    page.on('request', listener);
    await page.goto(`${baseUrl}/docs`);
    await page.locator('.swagger-ui .information-container').waitFor({ timeout: 30_000 });
    await page.locator('.swagger-ui').getByText('/api/flows/{flow_id}/versions/{number}/restore').first().waitFor();
    page.off('request', listener);
    assert.deepEqual(foreign, []);
  });

  await stage('dialogs-and-keyboard', async () => {
    await page.goto(flowUrl);
    await page.getByTestId('node-reshape').waitFor();
    await page.getByTestId('toolbar-run').focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('run-dialog').waitFor();
    for (let i = 0; i < 14; i += 1) {
      await page.keyboard.press(i % 3 === 2 ? 'Shift+Tab' : 'Tab');
      assert.ok(await page.evaluate(() => Boolean(document.activeElement?.closest('[role="dialog"]'))), 'focus stays in the dialog');
    }
    await page.keyboard.press('Escape');
    await page.getByTestId('run-dialog').waitFor({ state: 'detached' });
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'toolbar-run');
    await page.locator('.react-flow__minimap').waitFor();
    await page.getByTestId('toggle-minimap').click();
    await page.locator('.react-flow__minimap').waitFor({ state: 'detached' });
    await page.getByTestId('toggle-minimap').click();
    await page.locator('.react-flow__minimap').waitFor();
  });

  await stage('split-and-800px', async () => {
    await page.getByTestId('view-split').click();
    await sleep(400);
    await assertNoOverlap(page, '.react-flow__node');
    const canvas = await page.getByTestId('canvas').boundingBox();
    const nodes = await page.locator('.react-flow__node').evaluateAll((items) => items.map((item) => item.getBoundingClientRect().right));
    assert.ok(canvas && Math.max(...nodes) <= canvas.x + canvas.width + 1, 'split view refits the flow into the canvas');
    await page.getByTestId('view-canvas').click();
    await page.setViewportSize({ width: 800, height: 800 });
    await page.reload();
    await page.getByTestId('palette-trigger').waitFor();
    const clipped = await page.locator('.palette-label').evaluateAll((labels) =>
      labels.filter((label) => label.scrollWidth > label.clientWidth + 1).map((label) => label.textContent),
    );
    assert.deepEqual(clipped, [], 'palette labels fit at 800 px');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no horizontal scrolling (${overflow}px)`);
  });

  await t.test('no console errors', { skip: failed() && 'an earlier stage failed' }, () => {
    assert.deepEqual(app.consoleErrors, []);
  });
});
