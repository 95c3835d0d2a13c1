// Client attributes in the admin web UI (/admin), in headless Chromium against a `mailing`
// instance of the test's own: the client form edits them as `key = value` lines and explains
// each bad key, the client list shows them and searches by them, and a client filter requires
// them. One scenario in order; after a failed step the rest are skipped, with a screenshot
// and the instance's log tail.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { artifactsDir, launchBrowser, screenshotter, startInstance, scenarioSteps } from '../harness.js';

const ZONE = 'Asia/Yekaterinburg';

let instance;
let browser;
let page;
let shoot;
let base;

const step = scenarioSteps('contacts-', () => ({ page, instance }));

const url = (suffix = '') => `${base}${suffix}`;
const pathname = () => new URL(page.url()).pathname;
const field = (label) => page.getByLabel(label, { exact: true });
const button = (name) => page.getByRole('button', { name, exact: true });
const link = (name) => page.getByRole('link', { name, exact: true });
const checkbox = (name) => page.getByRole('checkbox', { name, exact: true });
const table = () => page.getByRole('table').first();
const rowsMatching = (text) => table().locator('tbody tr').filter({ hasText: text });

async function expectStatus(text) {
  await page.getByRole('status').filter({ hasText: text }).first().waitFor({ state: 'visible' });
}

/** Clicks a submit button and returns the response to the form's POST. */
async function submitForm(submit) {
  const [response] = await Promise.all([
    page.waitForResponse(
      (r) => r.request().method() === 'POST' && r.request().isNavigationRequest() && r.frame() === page.mainFrame(),
    ),
    submit.click(),
  ]);
  await page.waitForLoadState('load');
  return response;
}

async function newClient(phone, attributes) {
  await page.goto(url('/clients/new'));
  await field('Phone number').fill(phone);
  await field('Operator').selectOption('bln');
  await field('Attributes').fill(attributes);
  return submitForm(button('Save'));
}

async function searchClients(attributes) {
  await page.goto(url('/clients'));
  await field('Attributes').fill(attributes);
  await button('Search').click();
  await page.waitForLoadState('load');
}

describe('client attributes in the admin web UI', { concurrency: 1, timeout: 4 * 60_000 }, () => {
  before(async () => {
    instance = await startInstance({ logFile: path.join(artifactsDir, 'contacts-mailing.log') });
    base = `${instance.origin}/admin`;
    browser = await launchBrowser({ timezoneId: ZONE, locale: 'en-GB' });
    page = browser.page;
    shoot = screenshotter();
  });

  after(async () => {
    await browser?.close();
    await instance?.stop();
  });

  step('log in and create the operator bln', async () => {
    await page.goto(url());
    await field('Username').fill('admin');
    await field('Password').fill('12345');
    await button('Log in').click();
    await page.waitForURL((u) => u.pathname === '/admin' || u.pathname === '/admin/');
    await page.goto(url('/operators/new'));
    await field('Code').fill('bln');
    await field('Name').fill('Beeline');
    await button('Save').click();
    await expectStatus('Operator saved.');
  });

  step('the client form saves attributes typed as key = value lines, typed like CSV cells', async () => {
    const response = await newClient('79000000011', 'city = Kazan\nvip = true\nage = 30\nzip = "007"');
    assert.ok(response.status() < 400, `saved, not refused (${response.status()})`);
    await expectStatus('Client saved.');
    await newClient('79000000012', 'city = Perm\nvip = false');
    await expectStatus('Client saved.');
    await page.goto(url('/clients'));
    await rowsMatching('79000000011').first().getByRole('link', { name: /^Edit\b/ }).click();
    const shown = await field('Attributes').inputValue();
    assert.equal(shown, 'age = 30\ncity = Kazan\nvip = true\nzip = 007', 'the stored values, one a line');
    await shoot(page, 'contacts-client-attributes');
  });

  step('bad keys and values are each named in one problem beside the field, and nothing is saved', async () => {
    const response = await newClient('79000000013', 'City = Kazan\nnote\nok = 1');
    assert.equal(response.status(), 422);
    const attributes = field('Attributes');
    assert.equal(await attributes.getAttribute('aria-invalid'), 'true');
    const problem = (await page.locator('#attributes-error').innerText()).trim();
    assert.match(problem, /City: must be 1 to 64 characters/);
    assert.match(problem, /note: must be a string, a number or a boolean/);
    assert.equal(await attributes.inputValue(), 'City = Kazan\nnote\nok = 1', 'what was typed stays');
    await page.goto(url('/clients'));
    assert.equal(await rowsMatching('79000000013').count(), 0, 'not saved');
    await shoot(page, 'contacts-client-bad-attributes');
  });

  step('the client list shows attributes on one line and searches by them', async () => {
    await page.goto(url('/clients'));
    const row = rowsMatching('79000000011');
    assert.match(await row.innerText(), /age=30, city=Kazan, vip=true, zip=007/);
    await searchClients('city = Kazan, vip = true');
    assert.equal(await rowsMatching('79000000011').count(), 1);
    assert.equal(await rowsMatching('79000000012').count(), 0);
    // The text "true" is not the boolean.
    await searchClients('vip = "true"');
    assert.equal(await table().locator('tbody tr').filter({ hasText: /7900000001\d/ }).count(), 0);
    await searchClients('City = Kazan');
    assert.equal(await field('Attributes').getAttribute('aria-invalid'), 'true', 'a bad key is explained');
    await shoot(page, 'contacts-client-search');
  });

  step('a client filter requires attribute values and counts the clients holding them', async () => {
    await page.goto(url('/client-filters/new'));
    await field('Name').fill('Kazan');
    await checkbox('Beeline (bln)').check();
    await field('Attributes').fill('city = Kazan');
    await button('Save').click();
    await expectStatus('Client filter saved.');
    if (pathname() !== '/admin/client-filters') await page.goto(url('/client-filters'));
    const row = rowsMatching('Kazan').first();
    assert.match(await row.innerText(), /holding city = Kazan/);
    const cells = await row.locator('td').allInnerTexts();
    assert.ok(cells.some((cell) => cell.trim() === '1'), `one client now: ${cells}`);
    await shoot(page, 'contacts-client-filter');
  });
});
