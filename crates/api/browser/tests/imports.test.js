// CSV imports in the admin web UI (/admin), in headless Chromium against a `mailing` instance of
// the test's own: a dry run of a file with mixed phone formats and a bad row reports exact
// counts and the rejection and stores nothing, the real run adds the clients, a bad header is
// explained on the form, and the clients list's search downloads as CSV. One scenario in order;
// after a failed step the rest are skipped, with a screenshot and the instance's log tail.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { artifactsDir, eventually, launchBrowser, screenshotter, startInstance, scenarioSteps } from '../harness.js';

let instance;
let browser;
let page;
let shoot;
let base;

const step = scenarioSteps('imports-', () => ({ page, instance }));

const url = (suffix = '') => `${base}${suffix}`;
const field = (label) => page.getByLabel(label, { exact: true });
const button = (name) => page.getByRole('button', { name, exact: true });
const link = (name) => page.getByRole('link', { name, exact: true });

// Four phone formats, one number too short (line 4), one operator nobody has (line 6).
const SPREADSHEET = [
  'phone_number,operator_code,tags,attr.city',
  '+7 (900) 123-45-67,bln,vip,Kazan',
  '8 900 123 45 68,bln,,Omsk',
  '12345,bln,,Kazan',
  '9001234569,bln,new;vip,Kazan',
  '79001234570,xyz,,Perm',
  '79001234571,bln,,',
  '',
].join('\n');

/** Uploads `csv` through the import form and returns the response to its POST. */
async function upload(csv, { kind = 'clients', dryRun = false, name = 'list.csv' } = {}) {
  await page.goto(url(`/imports/new?kind=${kind}`));
  await field('CSV file').setInputFiles({ name, mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await field('Dry run').setChecked(dryRun);
  const [response] = await Promise.all([
    page.waitForResponse(
      (r) => r.request().method() === 'POST' && r.request().isNavigationRequest() && r.frame() === page.mainFrame(),
    ),
    button('Import').click(),
  ]);
  await page.waitForLoadState('load');
  return response;
}

/** The job page's counts once its status reads done (the page refreshes itself until then). */
async function finishedCounts() {
  await eventually(
    () => page.locator('#import-status').innerText(),
    (status) => status.trim() === 'done',
    { message: 'the import to finish' },
  );
  const counts = {};
  for (const name of ['rows', 'created', 'updated', 'unchanged', 'rejected']) {
    counts[name] = Number(await page.locator(`[data-count="${name}"]`).innerText());
  }
  return counts;
}

async function rejections() {
  const rows = page.locator('#rejections tbody tr');
  const found = [];
  for (let i = 0; i < (await rows.count()); i += 1) {
    const cells = await rows.nth(i).locator('td').allInnerTexts();
    found.push(cells.slice(0, 3).map((cell) => cell.trim()));
  }
  return found;
}

async function clientPhones() {
  await page.goto(url('/clients'));
  const cells = await page.getByRole('table').first().locator('tbody tr td:first-child').allInnerTexts();
  return cells.map((cell) => cell.trim()).sort();
}

describe('CSV imports in the admin web UI', { concurrency: 1, timeout: 4 * 60_000 }, () => {
  before(async () => {
    instance = await startInstance({ logFile: path.join(artifactsDir, 'imports-mailing.log') });
    base = `${instance.origin}/admin`;
    browser = await launchBrowser();
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
    await page.getByRole('status').filter({ hasText: 'Operator saved.' }).waitFor();
  });

  step('the nav leads to the imports, and from there to the clients import form', async () => {
    await page.goto(url());
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Imports' }).click();
    await page.waitForURL((u) => u.pathname === '/admin/imports');
    await link('Import clients').click();
    await page.waitForURL((u) => u.pathname === '/admin/imports/new');
    assert.equal(await field('Dry run').isChecked(), true, 'a dry run unless unticked');
    assert.equal(await field('Mode').inputValue(), 'upsert');
  });

  step('a dry run reports exact counts and each rejection, and stores nothing', async () => {
    const response = await upload(SPREADSHEET, { dryRun: true });
    assert.equal(response.status(), 303);
    assert.match(new URL(page.url()).pathname, /^\/admin\/imports\/\d+$/);
    const counts = await finishedCounts();
    assert.deepEqual(counts, { rows: 6, created: 4, updated: 0, unchanged: 0, rejected: 2 });
    const found = await rejections();
    assert.deepEqual(found.map(([line, column]) => [line, column]), [['4', 'phone_number'], ['6', 'operator_code']]);
    assert.match(found[0][2], /^must be a Russian mobile number/);
    assert.equal(found[1][2], 'no operator has this code');
    assert.equal(await page.locator('#import-progress').getAttribute('value'), '1000');
    assert.match(await page.locator('#dry-run-note').innerText(), /stored nothing/);
    await shoot(page, 'imports-dry-run');
    assert.deepEqual(await clientPhones(), [], 'nothing stored');
  });

  step('the real run adds the clients, their numbers normalised', async () => {
    await upload(SPREADSHEET);
    const counts = await finishedCounts();
    assert.deepEqual(counts, { rows: 6, created: 4, updated: 0, unchanged: 0, rejected: 2 });
    assert.equal(await page.locator('#dry-run-note').count(), 0);
    assert.deepEqual(await clientPhones(), ['79001234567', '79001234568', '79001234569', '79001234571']);
    await shoot(page, 'imports-clients');
    await page.goto(url('/imports'));
    const rows = page.getByRole('table').first().locator('tbody tr');
    assert.equal(await rows.count(), 2);
    assert.match(await rows.nth(1).innerText(), /\(dry run\)/);
  });

  step('a bad header is explained on the form and starts nothing', async () => {
    const response = await upload('phone_number,colour\n79001234599,red\n');
    assert.equal(response.status(), 422);
    assert.equal(new URL(page.url()).pathname, '/admin/imports/new');
    assert.equal(await field('CSV file').getAttribute('aria-invalid'), 'true');
    assert.match(await page.locator('#file-error').innerText(), /Column 2 \("colour"\)/);
    await shoot(page, 'imports-bad-header');
    const empty = await upload('', { kind: 'opt_outs' });
    assert.equal(empty.status(), 422);
    assert.match(await page.locator('#file-error').innerText(), /The file is empty/);
    await page.goto(url('/imports'));
    assert.equal(await page.getByRole('table').first().locator('tbody tr').count(), 2, 'no new job');
  });

  step('the clients list search downloads as CSV', async () => {
    await page.goto(url('/clients'));
    await field('Attributes').fill('city = Kazan');
    await button('Search').click();
    await page.waitForLoadState('load');
    const href = await link('Export CSV').getAttribute('href');
    assert.equal(href, '/admin/clients/export?attributes=city+%3D+Kazan');
    const response = await page.request.get(`${instance.origin}${href}`);
    assert.equal(response.status(), 200);
    assert.match(response.headers()['content-type'], /^text\/csv/);
    assert.equal(
      await response.text(),
      'phone_number,operator_code,tags,time_zone,attr.city\n'
        + '79001234567,bln,vip,UTC,Kazan\n'
        + '79001234569,bln,new;vip,UTC,Kazan\n',
    );
  });
});
