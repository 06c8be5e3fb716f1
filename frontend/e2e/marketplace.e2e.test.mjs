// End-to-end for the marketplace: the real app (`flowplane up`, Pro tier by default here) driven
// by Debian's Chromium. Publish a module as a tool from the module editor, browse and search the
// marketplace, open the listing (README, capabilities), install it through the grant dialog, find
// it in the palette's Marketplace tab, drag it onto a flow, fill its settings form (from the
// tool's JSON Schema), start and run; then publish the flow as a template and start a new flow
// from it. Screenshots per stage in ../test-artifacts/e2e-marketplace/ (the app and browser through
// harness.mjs).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chromiumMissing, connect, stages, startApp } from './harness.mjs';

let app = null;
let page = null;
let baseUrl = '';

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
  // Publishing tools needs Pro: the workspace this test signs up is on Pro.
  app = await startApp('e2e-marketplace', { FLOWPLANE_DEFAULT_TIER: 'pro' });
  ({ page, baseUrl } = app);
  page.setDefaultTimeout(30_000);
});

after(async () => {
  await app?.close();
});

test('publish, find, install and run a tool; publish a flow as a template and start from it', { skip: chromiumMissing && 'Chromium is not installed', timeout: 600_000 }, async (t) => {
  const { stage } = stages(t, app);

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
    await connect(page, 'handle-trigger-out', 'handle-code-in');
    await connect(page, 'handle-code-out', 'handle-output-in');
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
    assert.deepEqual(app.consoleErrors, []);
  });
});
