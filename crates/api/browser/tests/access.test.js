// Access in the admin web UI (/admin), in headless Chromium against a `mailing` instance of the
// test's own and a real OpenID provider (oidc-provider-mock): people sign in with "Log in with
// Staff SSO" and get the role their groups give. A viewer sees everything and is offered no
// change; someone in no mapped group is refused with a page that says why; a manager creates
// and pauses a mailing; an admin creates an API key an integrator then uses, and revokes it;
// every change is in the audit log with who made it.
// One scenario in order; after a failed step the rest are skipped, with a screenshot and the
// instance's log tail.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe } from 'node:test';
import {
  artifactsDir, freePort, launchBrowser, scenarioSteps, screenshotter, startInstance, startOidcProvider,
} from '../harness.js';

let provider;
let instance;
let browser;
let page;
let shoot;
const shared = {};

const step = scenarioSteps('access-', () => ({ page, instance }));

const field = (label) => page.getByLabel(label, { exact: true });
const button = (name) => page.getByRole('button', { name, exact: true });
const link = (name) => page.getByRole('link', { name, exact: true });

async function expectStatus(text) {
  await page.getByRole('status').filter({ hasText: text }).first().waitFor({ state: 'visible' });
}

/** Signs `sub` in through the provider's page, as a person would. */
async function signIn(sub) {
  await page.goto(`${instance.base}/login`);
  await link('Log in with Staff SSO').click();
  await page.waitForURL((u) => u.origin === provider.issuer);
  await page.getByPlaceholder('sub').fill(sub);
  await button('Authorize').click();
  await page.waitForURL((u) => u.origin === instance.origin);
}

async function signOut() {
  await button('Log out').click();
  await page.waitForURL((u) => u.pathname === '/admin/login');
}

async function api(method, suffix, { token, body } = {}) {
  const response = await fetch(`${instance.origin}/api/v1${suffix}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

describe('access in the admin web UI', { concurrency: 1, timeout: 5 * 60_000 }, () => {
  before(async () => {
    provider = await startOidcProvider({ logFile: path.join(artifactsDir, 'access-oidc-provider.log') });
    for (const [sub, name, groups] of [
      ['u-vera', 'vera', ['mailing-viewers']],
      ['u-max', 'max', ['mailing-managers', 'staff']],
      ['u-ada', 'ada', ['mailing-admins']],
      ['u-olga', 'olga', ['staff']],
    ]) {
      await provider.setUser(sub, { preferred_username: name, groups });
    }
    const httpPort = await freePort();
    instance = await startInstance({
      logFile: path.join(artifactsDir, 'access-mailing.log'),
      httpPort,
      env: {
        MAILING_OIDC_ISSUER: provider.issuer,
        MAILING_OIDC_CLIENT_ID: 'mailing-admin',
        MAILING_OIDC_CLIENT_SECRET: 'client-secret-42',
        MAILING_OIDC_REDIRECT_URL: `http://127.0.0.1:${httpPort}/admin/oidc/callback`,
        MAILING_OIDC_PROVIDER_NAME: 'Staff SSO',
      },
    });
    browser = await launchBrowser();
    page = browser.page;
    shoot = screenshotter();
  });

  after(async () => {
    await browser?.close();
    await instance?.stop();
    await provider?.stop();
  });

  step('a viewer signs in through the provider, sees everything and is offered no change', async () => {
    await signIn('u-vera');
    await page.waitForURL((u) => u.pathname === '/admin' || u.pathname === '/admin/');
    assert.match(await page.locator('.who').innerText(), /vera \(viewer\)/);
    assert.equal(await link('New mailing').count(), 0);
    assert.equal(await link('Users').count(), 0, 'no admin pages in the menu');
    for (const [name, where] of [['Mailings', '/admin/mailings'], ['Tags', '/admin/tags'], ['Operators', '/admin/operators'], ['Opt-outs', '/admin/opt-outs']]) {
      await link(name).click();
      await page.waitForURL((u) => u.pathname === where);
      assert.equal(await page.getByRole('link', { name: /^New / }).count(), 0, `${name}: no New`);
    }
    assert.equal(await button('Opt out').count(), 0, 'no opt-out form');
    await shoot(page, 'viewer');
    const response = await page.goto(`${instance.base}/mailings/new`);
    assert.equal(response.status(), 403);
    assert.match(await page.getByRole('alert').innerText(), /needs the manager role; the account vera is a viewer/);
    await page.goto(instance.base);
    await signOut();
  });

  step('someone whose groups give no role is refused with a page that says why', async () => {
    await signIn('u-olga');
    assert.equal(new URL(page.url()).pathname, '/admin/oidc/callback');
    const why = await page.getByRole('alert').innerText();
    assert.match(why, /You signed in as olga, but your groups are staff, and none of them gives a role here/);
    assert.match(why, /mailing-managers \(manager\)/);
    await shoot(page, 'no-role');
    await page.goto(instance.base);
    await page.waitForURL((u) => u.pathname === '/admin/login', { timeout: 5_000 });
  });

  step('a manager creates and pauses a mailing', async () => {
    await signIn('u-max');
    await page.waitForURL((u) => u.pathname === '/admin' || u.pathname === '/admin/');
    await link('New mailing').click();
    await page.waitForURL((u) => u.pathname === '/admin/mailings/new');
    await field('Text').fill('Signed in through SSO');
    await button('Save').click();
    await page.waitForURL((u) => /^\/admin\/mailings\/\d+$/.test(u.pathname));
    await expectStatus('Mailing saved.');
    shared.mailingId = new URL(page.url()).pathname.split('/').pop();
    await button('Pause mailing').click();
    await expectStatus('Mailing paused.');
    assert.equal(await link('Users').count(), 0, 'a manager has no admin pages');
    await shoot(page, 'manager-paused');
    await signOut();
  });

  step('an admin creates an API key an integrator uses, then revokes it', async () => {
    await signIn('u-ada');
    await page.waitForURL((u) => u.pathname === '/admin' || u.pathname === '/admin/');
    await link('Users').click();
    await page.waitForURL((u) => u.pathname === '/admin/users');
    const users = await page.getByRole('table', { name: 'Users' }).innerText();
    for (const name of ['vera', 'max', 'ada']) assert.match(users, new RegExp(name));
    assert.doesNotMatch(users, /olga/, 'the refused sign-in made no account');

    await link('API keys').click();
    await page.waitForURL((u) => u.pathname === '/admin/api-keys');
    await field('Name').fill('crm-sync');
    await field('Role').selectOption('manager');
    await button('Create key').click();
    await expectStatus('API key crm-sync created.');
    const key = (await page.locator('#new-key').innerText()).trim();
    assert.match(key, /^mlk_[A-Za-z0-9]{40}$/);
    await shoot(page, 'api-key-created');

    const created = await api('POST', '/tags', { token: key, body: { value: 'from-crm' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await page.reload();
    assert.doesNotMatch(await page.locator('main').innerText(), new RegExp(key), 'shown once');

    page.once('dialog', (dialog) => dialog.accept());
    await page.getByRole('table', { name: 'API keys' }).locator('tbody tr').filter({ hasText: 'crm-sync' })
      .getByRole('button', { name: 'Revoke' }).click();
    await expectStatus('API key revoked.');
    const refused = await api('GET', '/tags', { token: key });
    assert.equal(refused.status, 401);
    assert.equal(refused.body.code, 'invalid_api_key');
  });

  step('each change is in the audit log with who made it', async () => {
    await link('Audit log').click();
    await page.waitForURL((u) => u.pathname === '/admin/audit-log');
    const rows = page.getByRole('table', { name: 'Audit log' }).locator('tbody tr');
    const text = await rows.allInnerTexts();
    const has = (pattern, what) => assert.ok(text.some((row) => pattern.test(row)), `${what} in:\n${text.join('\n')}`);
    has(/API key crm-sync[\s\S]*create[\s\S]*tags #\d+[\s\S]*from-crm/, 'the integrator\'s tag');
    has(/ada[\s\S]*oidc, admin UI[\s\S]*delete[\s\S]*api-keys #\d+/, 'the revocation');
    has(/ada[\s\S]*create[\s\S]*api-keys #\d+/, 'the key');
    has(new RegExp(`max[\\s\\S]*oidc, admin UI[\\s\\S]*pause[\\s\\S]*mailings #${shared.mailingId}`), 'the pause');
    has(new RegExp(`max[\\s\\S]*create[\\s\\S]*mailings #${shared.mailingId}`), 'the mailing');
    has(/vera[\s\S]*sign in[\s\S]*session/, 'the viewer\'s sign-in');
    await field('Who').fill('max');
    await button('Search').click();
    await page.waitForLoadState('load');
    const mine = await rows.allInnerTexts();
    assert.ok(mine.length >= 3 && mine.every((row) => /^\S+\s+max/.test(row) || row.includes('max')), mine.join('\n'));
    await shoot(page, 'audit-log');
  });
});
