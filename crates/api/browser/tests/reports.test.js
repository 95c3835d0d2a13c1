// The daily report in the admin web UI (/admin), in headless Chromium against a `mailing`
// instance of the test's own with a real SMTP server (aiosmtpd): an admin finds the Daily report
// page in the menu, picks today, sees the mailing that ran with the numbers its statistics
// show, sends the report by e-mail from the page and reads where it went; a wrong date is
// explained; a viewer is not offered the page. One scenario in order; after a failed step the
// rest are skipped, with a screenshot and the instance's log tail.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe } from 'node:test';
import {
  artifactsDir, eventually, launchBrowser, scenarioSteps, screenshotter, startInstance, startSmtpSink,
} from '../harness.js';

const CLIENTS = 5;

let sink;
let instance;
let browser;
let page;
let shoot;
let token;
let mailingId;

const step = scenarioSteps('reports-', () => ({ page, instance }));

const field = (label) => page.getByLabel(label, { exact: true });
const button = (name) => page.getByRole('button', { name, exact: true });
const link = (name) => page.getByRole('link', { name, exact: true });
const today = () => new Date().toISOString().slice(0, 10);

async function api(method, pathname, body, bearer = token) {
  const response = await fetch(`${instance.origin}/api/v1${pathname}`, {
    method,
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${bearer}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

async function logIn(username, password) {
  await page.goto(`${instance.origin}/admin/login`);
  await field('Username').fill(username);
  await field('Password').fill(password);
  await button('Log in').click();
  await page.waitForURL((u) => u.pathname === '/admin' || u.pathname === '/admin/');
}

/** The totals table's row `label`: [value, change]. */
async function total(label) {
  const row = page.getByRole('table', { name: 'Totals' }).getByRole('row').filter({ has: page.getByRole('rowheader', { name: label, exact: true }) });
  return (await row.getByRole('cell').allInnerTexts()).map((text) => text.trim());
}

describe('the daily report in the admin web UI', { concurrency: 1, timeout: 5 * 60_000 }, () => {
  before(async () => {
    sink = await startSmtpSink({ logFile: path.join(artifactsDir, 'reports-smtp-sink.log') });
    instance = await startInstance({
      logFile: path.join(artifactsDir, 'reports-mailing.log'),
      env: {
        MAILING_SMTP_URL: sink.url,
        MAILING_REPORT_RECIPIENTS: 'ops@example.com',
        // Not today's time: the page sends it, not the scheduler.
        MAILING_REPORT_TIME: '23:59:59',
      },
    });
    browser = await launchBrowser();
    page = browser.page;
    shoot = screenshotter();
    const login = await fetch(`${instance.origin}/api/v1/auth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: '12345' }),
    });
    token = (await login.json()).access_token;
  });

  after(async () => {
    await browser?.close();
    await instance?.stop();
    await sink?.stop();
  });

  step('a mailing to five clients runs to its end over the API', async () => {
    assert.equal((await api('POST', '/operators', { code: 'mts', name: 'MTS' })).status, 201);
    for (let i = 0; i < CLIENTS; i += 1) {
      const created = await api('POST', '/clients', { phone_number: `7900000001${i}`, operator_code: 'mts', time_zone: 'UTC' });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    }
    const now = Date.now();
    const created = await api('POST', '/mailings', {
      text: 'Report me',
      start_at: new Date(now - 60_000).toISOString(),
      end_at: new Date(now + 3_600_000).toISOString(),
      filter: {},
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    mailingId = created.body.id;
    await eventually(
      async () => (await api('GET', `/mailings/${mailingId}/stats`)).body,
      (stats) => stats.by_status.sent === CLIENTS,
      { timeout: 30_000, message: 'every message sent' },
    );
  });

  step('an admin opens the Daily report from the menu and picks today', async () => {
    await logIn('admin', '12345');
    await link('Daily report').click();
    await page.waitForURL((u) => u.pathname === '/admin/reports/daily');
    assert.match(await page.locator('h1').innerText(), /^Daily report for \d{4}-\d{2}-\d{2}$/);
    assert.match(await page.locator('main').innerText(), /No mailing was active that day\./, 'yesterday, before the mailing');
    await field('Day').fill(today());
    await button('Show').click();
    await page.waitForURL((u) => u.searchParams.get('date') === today());
    assert.equal(await page.locator('h1').innerText(), `Daily report for ${today()}`);
    assert.deepEqual(await total('Sent'), [String(CLIENTS), `+${CLIENTS}`]);
    assert.deepEqual(await total('Delivery rate'), ['100.0%', '–']);
    const row = page.getByRole('table', { name: 'Mailings' }).getByRole('row').filter({ hasText: 'Report me' });
    const cells = (await row.getByRole('cell').allInnerTexts()).map((text) => text.trim());
    assert.equal(cells[2], String(CLIENTS), `sent that day: ${cells}`);
    const stats = (await api('GET', `/mailings/${mailingId}/stats`)).body;
    assert.match(cells[6], new RegExp(`^${stats.total} messages: ${stats.by_status.sent} sent, ${stats.by_status.failed} failed`), 'as its statistics count');
    assert.match(await page.locator('main').innerText(), /The e-mail of this day goes out at \d{4}-\d{2}-\d{2} \d{2}:\d{2}\./, 'tomorrow morning');
    await shoot(page, 'today');
  });

  step('the admin sends it by e-mail from the page', async () => {
    await button('Send this report now').click();
    await page.getByRole('status').filter({ hasText: 'Report sent.' }).waitFor();
    assert.match(await page.locator('main').innerText(), /The e-mail of this day goes out at /, 'sending it by hand leaves the whole day to come tomorrow');
    const mail = sink.received();
    assert.equal(mail.length, 1);
    assert.equal(mail[0].subject, `Mailing daily report for ${today()}: ${CLIENTS} sent, 100.0% delivered`);
    assert.deepEqual(mail[0].rcpt_tos, ['ops@example.com']);
    assert.match(mail[0].html, /#\d+ Report me/);
    assert.match(mail[0].text, new RegExp(`that day: ${CLIENTS} sent`));
    await shoot(page, 'sent');
  });

  step('a date that is not one is explained, and the day before is a link away', async () => {
    const response = await page.goto(`${instance.origin}/admin/reports/daily?date=2026-02-30`);
    assert.equal(response.status(), 400);
    assert.match(await page.getByRole('alert').innerText(), /the date is not a date written as YYYY-MM-DD; for example "\d{4}-\d{2}-\d{2}"/);
    await page.goto(`${instance.origin}/admin/reports/daily?date=${today()}`);
    await page.getByRole('link', { name: /^← \d{4}-\d{2}-\d{2}$/ }).click();
    await page.waitForURL((u) => u.searchParams.get('date') !== today());
    assert.match(await page.locator('main').innerText(), /No mailing was active that day\./);
  });

  step('a viewer is not offered the report', async () => {
    const created = await api('POST', '/users', { username: 'vera', role: 'viewer', password: 'a long passphrase' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await button('Log out').click();
    await page.waitForURL((u) => u.pathname === '/admin/login');
    await logIn('vera', 'a long passphrase');
    assert.equal(await link('Daily report').count(), 0);
    const response = await page.goto(`${instance.origin}/admin/reports/daily`);
    assert.equal(response.status(), 403);
    assert.match(await page.getByRole('alert').innerText(), /needs the manager role; the account vera is a viewer/);
  });
});
