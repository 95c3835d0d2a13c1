// Opt-outs and replies in the admin web UI (/admin), in headless Chromium against a `mailing`
// instance of the test's own, configured with an inbound secret: a number written as people
// write it is opted out from the form with the source ui, found by a search in another written
// form and removed; a signed reply posted to the API shows in the replies list with what it did.
// One scenario in order; after a failed step the rest are skipped, with a screenshot and the
// instance's log tail.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { artifactsDir, launchBrowser, screenshotter, startInstance, scenarioSteps } from '../harness.js';

const SECRET = 'a secret shared with the provider';

let instance;
let browser;
let page;
let shoot;
let base;

const step = scenarioSteps('opt-outs-', () => ({ page, instance }));

const url = (suffix = '') => `${base}${suffix}`;
const field = (label) => page.getByLabel(label, { exact: true });
const button = (name) => page.getByRole('button', { name, exact: true });
const table = () => page.getByRole('table').first();
const rowsMatching = (text) => table().locator('tbody tr').filter({ hasText: text });

async function expectStatus(text) {
  await page.getByRole('status').filter({ hasText: text }).first().waitFor({ state: 'visible' });
}

/** Posts a reply as a provider forwards it, signed with the shared secret. */
async function postReply(from, text) {
  const raw = JSON.stringify({ from, text });
  const signature = crypto.createHmac('sha256', SECRET).update(raw).digest('hex');
  return fetch(`${instance.origin}/api/v1/inbound`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Signature': `sha256=${signature}` },
    body: raw,
  });
}

describe('opt-outs and replies in the admin web UI', { concurrency: 1, timeout: 4 * 60_000 }, () => {
  before(async () => {
    instance = await startInstance({
      logFile: path.join(artifactsDir, 'opt-outs-mailing.log'),
      env: { MAILING_INBOUND_SECRET: SECRET },
    });
    base = `${instance.origin}/admin`;
    browser = await launchBrowser();
    page = browser.page;
    shoot = screenshotter();
  });

  after(async () => {
    await browser?.close();
    await instance?.stop();
  });

  step('log in', async () => {
    await page.goto(url());
    await field('Username').fill('admin');
    await field('Password').fill('12345');
    await button('Log in').click();
    await page.waitForURL((u) => u.pathname === '/admin' || u.pathname === '/admin/');
  });

  step('a number that is no phone number is refused beside its field, and nothing is added', async () => {
    await page.getByRole('link', { name: 'Opt-outs', exact: true }).click();
    await page.waitForLoadState('load');
    await field('Phone number').fill('12-34');
    await button('Opt out').click();
    await page.waitForLoadState('load');
    assert.equal(await field('Phone number').getAttribute('aria-invalid'), 'true');
    assert.equal(await field('Phone number').inputValue(), '12-34', 'what was typed stays');
    assert.match(await page.getByText('No opt-outs found.').innerText(), /No opt-outs/);
  });

  step('a number written as people write it is opted out with the source ui', async () => {
    await field('Phone number').fill('+7 (900) 123-45-67');
    await field('Reason').fill('asked by phone');
    await button('Opt out').click();
    await expectStatus('79001234567 opted out; no waiting messages suppressed.');
    const row = rowsMatching('79001234567');
    assert.equal(await row.count(), 1);
    assert.match(await row.innerText(), /ui\s+asked by phone/);
    await shoot(page, 'opt-outs-added');
  });

  step('the search finds the number written another way', async () => {
    await page.goto(url('/opt-outs'));
    await field('Phone').fill('8 900 123 45 67');
    await button('Search').click();
    await page.waitForLoadState('load');
    assert.equal(await rowsMatching('79001234567').count(), 1);
    await field('Phone').fill('7901');
    await button('Search').click();
    await page.waitForLoadState('load');
    assert.equal(await rowsMatching('79001234567').count(), 0, 'another prefix finds nothing');
  });

  step('removing asks first, then opts the number back in', async () => {
    await page.goto(url('/opt-outs'));
    page.once('dialog', (dialog) => {
      assert.match(dialog.message(), /Remove the opt-out of 79001234567\?/);
      dialog.accept();
    });
    await rowsMatching('79001234567').getByRole('button', { name: 'Remove' }).click();
    await expectStatus('Opt-out removed.');
    assert.equal(await page.getByRole('table').count(), 0, 'the list is empty');
  });

  step('a signed reply shows in the replies list with what it did', async () => {
    const response = await postReply('8 900 765 43 21', ' СТОП ');
    assert.ok(response.ok, `accepted (${response.status})`);
    await page.getByRole('link', { name: 'Replies', exact: true }).click();
    await page.waitForLoadState('load');
    const row = rowsMatching('79007654321');
    assert.equal(await row.count(), 1);
    assert.match(await row.innerText(), /СТОП\s+Opted out/);
    await shoot(page, 'opt-outs-replies');
    await page.goto(url('/opt-outs'));
    assert.match(await rowsMatching('79007654321').innerText(), /inbound/);
  });
});
