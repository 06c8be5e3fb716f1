// End-to-end for Clerk sign-in: the real app (`flowplane up` with CLERK_ISSUER and
// CLERK_PUBLISHABLE_KEY) driven by Debian's Chromium. Clerk is the third party, so it is faked:
// an issuer on 127.0.0.1 serves its JWKS over real HTTP (the control plane verifies session
// tokens against it exactly as against Clerk's), and the browser bundle the editor loads from
// the publishable key's Frontend API host is answered by a stand-in with Clerk's browser API
// (load, mountSignIn, addListener, session.getToken, signOut) whose tokens that issuer signs.
// Under the editor's Content-Security-Policy the bundle, its requests and the sign-in have to
// work, and a fresh token is asked for on every API request.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createSign, generateKeyPairSync } from 'node:crypto';
import { chromiumMissing, stages, startApp } from './harness.mjs';

const FRONTEND_API = 'clerk.e2e.test';
const PUBLISHABLE_KEY = `pk_test_${Buffer.from(`${FRONTEND_API}$`).toString('base64')}`;
const EMAIL = `clerk-${Date.now()}@example.com`;
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const JWK = { ...publicKey.export({ format: 'jwk' }), kid: 'e2e', alg: 'RS256', use: 'sig' };

let app = null;
let issuer = null;
let issuerUrl = '';
let tokensIssued = 0;

/** Waits (up to 15 s) until the fake Frontend API has issued a token since `count`. */
async function issued(count, what) {
  const deadline = Date.now() + 15_000;
  while (tokensIssued <= count && Date.now() < deadline) await new Promise((done) => setTimeout(done, 100));
  assert.ok(tokensIssued > count, what);
}

function base64url(value) {
  return Buffer.from(value).toString('base64url');
}

function sessionToken() {
  tokensIssued += 1;
  const now = Math.floor(Date.now() / 1000);
  const header = base64url(JSON.stringify({ alg: 'RS256', kid: 'e2e', typ: 'JWT' }));
  const claims = base64url(JSON.stringify({ iss: issuerUrl, sub: 'user_e2e', email: EMAIL, iat: now, nbf: now - 5, exp: now + 60 }));
  const signature = createSign('RSA-SHA256').update(`${header}.${claims}`).sign(privateKey).toString('base64url');
  return `${header}.${claims}.${signature}`;
}

// The stand-in for clerk.browser.js: a sign-in that is one button, and a session whose tokens
// come from the fake Frontend API.
const FAKE_CLERK_JS = `(() => {
  const listeners = new Set();
  const session = () => ({
    getToken: async () => (await fetch('https://${FRONTEND_API}/v1/session-token')).text(),
  });
  const clerk = {
    session: null,
    // like Clerk's cookie, the session outlives a reload of the page
    async load() { if (sessionStorage.getItem('fake-clerk')) clerk.session = session(); },
    mountSignIn(node) {
      const button = document.createElement('button');
      button.textContent = 'Continue with Clerk';
      button.setAttribute('data-testid', 'fake-clerk-continue');
      button.onclick = () => {
        sessionStorage.setItem('fake-clerk', '1');
        clerk.session = session();
        listeners.forEach((listener) => listener({ session: clerk.session }));
      };
      node.appendChild(button);
    },
    unmountSignIn(node) { node.replaceChildren(); },
    addListener(listener) { listeners.add(listener); return () => listeners.delete(listener); },
    async signOut() { sessionStorage.removeItem('fake-clerk'); clerk.session = null; window.__clerkSignedOut = true; },
  };
  window.Clerk = clerk;
})();`;

before(async () => {
  if (chromiumMissing) return;
  issuer = createServer((request, response) => {
    if (request.url === '/.well-known/jwks.json') {
      response.writeHead(200, { 'content-type': 'application/json' });
      return response.end(JSON.stringify({ keys: [JWK] }));
    }
    response.writeHead(404).end();
  });
  await new Promise((done) => issuer.listen(0, '127.0.0.1', done));
  issuerUrl = `http://127.0.0.1:${issuer.address().port}`;
  app = await startApp('e2e-clerk', { CLERK_ISSUER: issuerUrl, CLERK_PUBLISHABLE_KEY: PUBLISHABLE_KEY });
  await app.page.route(`https://${FRONTEND_API}/**`, (route) => {
    const cors = { 'access-control-allow-origin': app.baseUrl };
    if (route.request().url().endsWith('/clerk.browser.js')) {
      return route.fulfill({ contentType: 'application/javascript', headers: cors, body: FAKE_CLERK_JS });
    }
    if (route.request().url().endsWith('/v1/session-token')) {
      return route.fulfill({ contentType: 'text/plain', headers: cors, body: sessionToken() });
    }
    return route.fulfill({ status: 404, headers: cors, body: '' });
  });
});

after(async () => {
  await app?.close();
  issuer?.close();
});

test('sign in with Clerk, use the app on Clerk session tokens, sign out', { skip: chromiumMissing && 'Chromium is not installed', timeout: 180_000 }, async (t) => {
  const { page, baseUrl } = app;
  const { stage } = stages(t, app);

  await stage('clerk-sign-in', async () => {
    await page.goto(`${baseUrl}/login`);
    await page.getByTestId('fake-clerk-continue').click();
    await page.waitForURL('**/dashboard');
    await page.getByTestId('user-email').filter({ hasText: EMAIL }).waitFor();
  });

  await stage('api-on-fresh-tokens', async () => {
    let before = tokensIssued;
    await page.getByTestId('nav-runs').click();
    await page.waitForURL('**/runs');
    await issued(before, 'each API request asks Clerk for a fresh session token');
    // after a reload the editor goes back to Clerk (it resumes the session in the background)
    before = tokensIssued;
    await page.reload();
    await page.getByTestId('user-email').filter({ hasText: EMAIL }).waitFor();
    await issued(before, 'after a reload, the Clerk session is resumed');
    before = tokensIssued;
    await page.getByRole('link', { name: 'Modules' }).click();
    await page.waitForURL('**/modules');
    await issued(before, 'after a reload, API requests still ask Clerk for fresh session tokens');
  });

  await stage('sign-out', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/\/login/);
    assert.equal(await page.evaluate(() => window.__clerkSignedOut), true, 'the Clerk session is ended too');
    await page.getByTestId('fake-clerk-continue').waitFor();
  });

  await stage('no-console-errors', async () => {
    assert.deepEqual(app.consoleErrors, []);
  });
});
