// The admin web UI (/admin) as a person uses it, in headless Chromium against a `mailing`
// instance of the test's own. One scenario in order; each step is a test of its own and the
// steps share the instance, the browser and what earlier steps created. After a failed step
// the rest are skipped, and the failure is saved as a screenshot next to the others, with the
// instance's log tail printed.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'playwright-core';
import {
  artifactsDir,
  eventually,
  freshArtifactsDir,
  launchBrowser,
  screenshotter,
  scenarioSteps,
  startInstance,
} from '../harness.js';

const ZONE = 'Asia/Yekaterinburg';
const USERNAME = 'admin';
const PASSWORD = '12345';
const SESSION_COOKIE = 'mailing_admin_session';
const NAV_LINKS = ['Dashboard', 'Mailings', 'Clients', 'Operators', 'Tags', 'Client filters'];
const STATUSES = ['scheduled', 'queued', 'sent', 'retrying', 'failed', 'expired', 'cancelled', 'total'];
const PHONES = ['79000000001', '79000000002', '79000000003'];
const MAILING_TEXT = 'Hello from the admin UI browser test';
/** How far ahead the mailing starts, so the pages after saving it watch it start. */
const START_IN_MS = 8_000;
/** How long the mailing sent while the provider fails runs, so its end expires what waits. */
const FAILING_FOR_MS = 20_000;

let instance;
let browser;
let page;
let shoot;
let base;
const pageErrors = [];
const badResponses = [];
const shared = {};

const step = scenarioSteps('', () => ({ page, instance }));

const url = (suffix = '') => `${base}${suffix}`;
const pathname = () => new URL(page.url()).pathname;
const h1 = (name) => page.getByRole('heading', { level: 1, name, exact: true });
const nav = () => page.getByRole('navigation', { name: 'Main', exact: true });
const field = (label) => page.getByLabel(label, { exact: true });
const button = (name) => page.getByRole('button', { name, exact: true });
const link = (name) => page.getByRole('link', { name, exact: true });
const checkbox = (name) => page.getByRole('checkbox', { name, exact: true });
const bodyText = () => page.locator('body').innerText();

async function expectH1(name) {
  await h1(name).waitFor({ state: 'visible' });
}

/** Waits for an element role=status saying `text` (the "… saved." notice after a save). */
async function expectStatus(text) {
  await page.getByRole('status').filter({ hasText: text }).first().waitFor({ state: 'visible' });
}

/** Clicks a submit button and returns the response to the form's POST (its HTTP status). */
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

/** What every page after login has: the main navigation, Log out, the viewer's time zone,
 * and a CSRF token in every form that posts. */
async function expectLayout() {
  await nav().waitFor({ state: 'visible' });
  for (const name of NAV_LINKS) {
    assert.equal(await nav().getByRole('link', { name, exact: true }).count(), 1, `nav link "${name}" on ${page.url()}`);
  }
  assert.equal(await button('Log out').count(), 1, `a "Log out" button on ${page.url()}`);
  assert.ok((await bodyText()).includes(ZONE), `the time zone name "${ZONE}" on ${page.url()}`);
  await expectCsrfTokens();
}

async function expectCsrfTokens() {
  const forms = await page.locator('form').evaluateAll((all) =>
    all.map((form) => ({
      method: (form.getAttribute('method') || 'get').toLowerCase(),
      action: form.getAttribute('action') || '',
      token: form.querySelector('input[type=hidden][name=csrf_token]')?.value ?? null,
    })),
  );
  for (const form of forms.filter((f) => f.method === 'post')) {
    assert.ok(form.token, `form posting to "${form.action}" on ${page.url()} has a hidden csrf_token with a value`);
  }
}

async function goNav(name, expectedPath, heading = name) {
  await nav().getByRole('link', { name, exact: true }).click();
  await page.waitForURL((u) => u.pathname === expectedPath);
  await expectH1(heading);
  await expectLayout();
}

/** The mailing's status as its page shows it. */
const statusBadge = async () => (await page.locator('#mailing-progress .badge').first().innerText()).trim();

/** The mailing page's counts by status, lower-cased status to text. */
async function countsByStatus() {
  const counts = page.getByRole('table', { name: 'Counts by status', exact: true });
  return Object.fromEntries(
    await counts.locator('tr').evaluateAll((rows) =>
      rows
        .map((row) => [row.querySelector('th[scope=row]')?.textContent.trim().toLowerCase(), row.querySelector('td')?.textContent.trim()])
        .filter(([status]) => status),
    ),
  );
}

/** What the mailing page's details say under `term`. */
async function detail(term) {
  return page.locator('.details').evaluate((dl, name) => {
    const dt = [...dl.querySelectorAll('dt')].find((d) => d.textContent.trim() === name);
    return dt?.nextElementSibling?.textContent.trim() ?? null;
  }, term);
}

/** Sets the faults the instance's probe simulator answers with. */
async function simFaults(patch) {
  const response = await fetch(`${instance.simOrigin}/_sim/config`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(patch),
  });
  assert.equal(response.status, 200, `PUT /_sim/config ${JSON.stringify(patch)}: ${await response.text()}`);
}

/** Rows of `table` whose text matches `pattern`. */
const rowsMatching = (table, pattern) => table.getByRole('row').filter({ hasText: pattern });

/**
 * Every problem shown beside a field is placed alike: right after its field's control (or
 * checkboxes), inside the field, named by the control's aria-describedby, and worded with the
 * form's labels rather than the API's field names. Returns the problems' texts by id.
 */
async function expectProblemsBesideTheirFields() {
  const problems = await page.locator('.field-error').evaluateAll((all) =>
    all.map((p) => {
      const control = document.querySelector(`[aria-describedby~="${p.id}"]`);
      const field = p.parentElement;
      const before = p.previousElementSibling;
      return {
        id: p.id,
        text: p.textContent.trim(),
        described: Boolean(control),
        invalid: control?.getAttribute('aria-invalid') ?? null,
        inItsField: Boolean(control) && (field === control || field.contains(control)),
        afterControl: Boolean(before) && (before === control || before.classList.contains('choices')),
      };
    }),
  );
  for (const problem of problems) {
    assert.ok(problem.described, `a control names #${problem.id} in aria-describedby`);
    assert.equal(problem.invalid, 'true', `the control of #${problem.id} is aria-invalid`);
    assert.ok(problem.inItsField, `#${problem.id} is inside its field`);
    assert.ok(problem.afterControl, `#${problem.id} follows its control directly`);
    assert.doesNotMatch(problem.text, /_|\[\d+\]/, `#${problem.id} uses the form's words: "${problem.text}"`);
  }
  return Object.fromEntries(problems.map((p) => [p.id, p.text]));
}

/** Which of the dashboard's sections ("Running" or "Upcoming") lists the link `name`. */
async function dashboardSectionOf(on, name) {
  return on.getByRole('link', { name, exact: true }).evaluate((a) => a.closest('section')?.querySelector('h2')?.textContent.trim() ?? null);
}

/** The wall-clock time in `zone` as a naive timestamp (ms), for comparing with datetime-local. */
function naiveNow(zone) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    })
      .formatToParts(new Date())
      .map((p) => [p.type, p.value]),
  );
  return Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second);
}

/** A naive timestamp (ms) as a datetime-local value with seconds: "2026-12-02T10:15:30". */
function datetimeLocal(naiveMs) {
  return new Date(naiveMs).toISOString().slice(0, 19);
}

/** A datetime-local value ("2026-12-02T10:15" or with seconds) as a naive timestamp (ms). */
function naive(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$/.exec(value);
  assert.ok(m, `a datetime-local value, not "${value}"`);
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] ?? 0));
}

describe('admin web UI', { concurrency: 1, timeout: 8 * 60_000 }, () => {
  before(async () => {
    freshArtifactsDir();
    instance = await startInstance();
    base = `${instance.origin}/admin`;
    process.stderr.write(`mailing ready at ${instance.origin} in ${instance.startupMs} ms (log: ${instance.logFile})\n`);
    browser = await launchBrowser({ timezoneId: ZONE, locale: 'en-GB' });
    page = browser.page;
    shoot = screenshotter();
    page.on('dialog', (dialog) => dialog.accept());
    page.on('pageerror', (error) => pageErrors.push(`${page.url()}: ${error.message}`));
    page.on('response', (response) => {
      const req = response.request();
      const status = response.status();
      if (status >= 500) badResponses.push(`${status} ${req.method()} ${response.url()}`);
      else if (status >= 400 && !req.isNavigationRequest() && !response.url().endsWith('/favicon.ico')) {
        badResponses.push(`${status} ${req.method()} ${response.url()} (a resource or live update)`);
      }
    });
  });

  after(async () => {
    await browser?.close();
    await instance?.stop();
    if (fs.existsSync(artifactsDir)) process.stderr.write(`screenshots and log: ${artifactsDir}\n`);
  });

  step('GET /admin without a session redirects to the login page', async () => {
    await page.goto(url());
    assert.equal(pathname(), '/admin/login');
    await expectH1('Log in');
    await field('Username').waitFor();
    await field('Password').waitFor();
    await button('Log in').waitFor();
    await expectCsrfTokens();
    await shoot(page, 'login');
  });

  step('a wrong password is refused with 401 and an alert', async () => {
    await field('Username').fill(USERNAME);
    await field('Password').fill('not-the-password');
    const response = await submitForm(button('Log in'));
    assert.equal(response.status(), 401);
    assert.equal(pathname(), '/admin/login');
    await expectH1('Log in');
    const alert = page.getByRole('alert').filter({ hasText: 'Wrong username or password' });
    await alert.first().waitFor({ state: 'visible' });
    const cookies = await browser.context.cookies();
    assert.ok(!cookies.some((c) => c.name === SESSION_COOKIE), 'no session cookie after a refused login');
    await shoot(page, 'login-refused');
  });

  step('the right password logs in to the dashboard with a strict HttpOnly session cookie', async () => {
    await field('Username').fill(USERNAME);
    await field('Password').fill(PASSWORD);
    await button('Log in').click();
    await page.waitForURL((u) => u.pathname === '/admin' || u.pathname === '/admin/');
    await expectH1('Dashboard');
    await expectLayout();
    const session = (await browser.context.cookies()).find((c) => c.name === SESSION_COOKIE);
    assert.ok(session, `a cookie named ${SESSION_COOKIE}`);
    assert.equal(session.httpOnly, true, 'the session cookie is HttpOnly');
    assert.equal(session.sameSite, 'Strict', 'the session cookie is SameSite=Strict');
    assert.ok(session.value.length >= 16, 'the session cookie carries a real token');
    shared.sessionCookie = session;
    await shoot(page, 'dashboard-empty');
  });

  step('operators: create Beeline (bln) and MTS (mts)', async () => {
    await goNav('Operators', '/admin/operators');
    await shoot(page, 'operators-empty');
    for (const [code, name] of [
      ['bln', 'Beeline'],
      ['mts', 'MTS'],
    ]) {
      await link('New operator').click();
      await page.waitForURL((u) => u.pathname === '/admin/operators/new');
      await expectH1('New operator');
      await expectLayout();
      await field('Code').fill(code);
      await field('Name').fill(name);
      await shoot(page, `operator-new-${code}`);
      await button('Save').click();
      await expectStatus('Operator saved.');
      await expectLayout();
      await shoot(page, `operator-saved-${code}`);
      if (pathname() !== '/admin/operators') await goNav('Operators', '/admin/operators');
    }
    assert.ok((await page.getByRole('table').count()) >= 1, 'the operators page has a table');
    const table = page.getByRole('table').first();
    for (const [code, name] of [
      ['bln', 'Beeline'],
      ['mts', 'MTS'],
    ]) {
      const row = rowsMatching(table, code).filter({ hasText: name });
      assert.equal(await row.count(), 1, `one row for operator ${code}`);
      // "Edit" and "Delete", or longer names that start so ("Edit Beeline"), which tell rows apart.
      assert.equal(await row.getByRole('link', { name: /^Edit\b/ }).count(), 1, `an Edit link in the ${code} row`);
      assert.equal(await row.getByRole('button', { name: /^Delete\b/ }).count(), 1, `a Delete button in the ${code} row`);
    }
    await shoot(page, 'operators');
  });

  step('tags: create vip', async () => {
    await goNav('Tags', '/admin/tags');
    await link('New tag').click();
    await field('Value').fill('vip');
    await shoot(page, 'tag-new');
    await button('Save').click();
    await expectStatus('Tag saved.');
    await expectLayout();
    if (pathname() !== '/admin/tags') await goNav('Tags', '/admin/tags');
    assert.ok((await page.locator('main').innerText()).includes('vip'), 'the tags list shows vip');
    await shoot(page, 'tags');
  });

  step('clients: create three', async () => {
    const clients = [
      { phone: PHONES[0], operator: 'bln', label: 'Beeline (bln)', tags: 'vip' },
      { phone: PHONES[1], operator: 'bln', label: 'Beeline (bln)' },
      { phone: PHONES[2], operator: 'mts', label: 'MTS (mts)', zone: 'Europe/Moscow' },
    ];
    for (const [i, client] of clients.entries()) {
      await goNav('Clients', '/admin/clients');
      if (i === 0) {
        await field('Phone').waitFor();
        assert.equal(await field('Operator').evaluate((e) => e.tagName), 'SELECT', 'the search form\'s Operator is a select');
        assert.equal(await field('Tag').evaluate((e) => e.tagName), 'SELECT', 'the search form\'s Tag is a select');
        await button('Search').waitFor();
        await shoot(page, 'clients-empty');
      }
      await link('New client').click();
      await page.waitForURL((u) => u.pathname === '/admin/clients/new');
      await expectLayout();
      await field('Phone number').fill(client.phone);
      await field('Operator').selectOption({ label: client.label });
      assert.equal(await field('Operator').inputValue(), client.operator, `the option "${client.label}" has the value ${client.operator}`);
      if (client.tags) await field('Tags').fill(client.tags);
      assert.equal(await field('Time zone').inputValue(), 'UTC', 'the time zone defaults to UTC');
      if (client.zone) await field('Time zone').fill(client.zone);
      if (i === 0) {
        // The time zone field suggests IANA names from a list the browser fetches once.
        const listId = await field('Time zone').getAttribute('list');
        assert.ok(listId, 'the time zone field has a list of suggestions');
        const options = page.locator(`datalist#${listId} option`);
        await eventually(() => options.count(), (n) => n > 300, { message: 'the time zone suggestions to load' });
        const names = await options.evaluateAll((all) => all.map((o) => o.value));
        for (const name of ['Europe/Moscow', 'Asia/Yekaterinburg', 'UTC']) {
          assert.ok(names.includes(name), `${name} is suggested`);
        }
        await shoot(page, 'client-new');
      }
      await button('Save').click();
      await expectStatus('Client saved.');
      await expectLayout();
      await shoot(page, `client-saved-${client.phone}`);
    }
    await goNav('Clients', '/admin/clients');
    const table = page.getByRole('table').first();
    for (const phone of PHONES) {
      assert.equal(await rowsMatching(table, phone).count(), 1, `one row for client ${phone}`);
    }
    await shoot(page, 'clients');
  });

  step('clients: the search form finds by operator', async () => {
    await field('Operator').selectOption('mts');
    await button('Search').click();
    await page.waitForLoadState('load');
    const table = page.getByRole('table').first();
    await eventually(() => rowsMatching(table, /7900000000\d/).count(), (n) => n === 1, {
      message: 'one client of operator mts',
    });
    assert.equal(await rowsMatching(table, PHONES[2]).count(), 1);
    await shoot(page, 'clients-search-mts');
  });

  step('clients: a bad phone number and time zone are explained beside their fields in the form\'s words and not saved', async () => {
    await goNav('Clients', '/admin/clients');
    await link('New client').click();
    await page.waitForURL((u) => u.pathname === '/admin/clients/new');
    await field('Phone number').fill('12345');
    await field('Operator').selectOption('bln');
    await field('Time zone').fill('Europe/Mosow');
    const response = await submitForm(button('Save'));
    assert.equal(response.status(), 422);
    const phone = field('Phone number');
    assert.equal(await phone.getAttribute('aria-invalid'), 'true');
    const describedBy = ((await phone.getAttribute('aria-describedby')) ?? '').split(/\s+/);
    assert.ok(describedBy.includes('phone_number-error'), `aria-describedby names phone_number-error (${describedBy})`);
    const error = page.locator('#phone_number-error');
    await error.waitFor({ state: 'visible' });
    const problems = await expectProblemsBesideTheirFields();
    assert.equal(problems['phone_number-error'], 'Phone number: write 11 digits starting with 7, e.g. 79001234567');
    assert.match(problems['time_zone-error'] ?? '', /^Time zone: not a time zone name; pick one of the suggestions/);
    assert.equal(await field('Time zone').inputValue(), 'Europe/Mosow', 'what was typed stays');
    await expectLayout();
    await shoot(page, 'client-bad-phone');
    await goNav('Clients', '/admin/clients');
    const table = page.getByRole('table').first();
    assert.equal(await rowsMatching(table, '12345').count(), 0, 'the bad phone number was not saved');
    assert.equal(await rowsMatching(table, /7900000000\d/).count(), 3, 'still three clients');
  });

  step('client filters: create Beeline VIP', async () => {
    await goNav('Client filters', '/admin/client-filters');
    await link('New client filter').click();
    await expectLayout();
    await field('Name').fill('Beeline VIP');
    await checkbox('Beeline (bln)').check();
    await checkbox('vip').check();
    assert.equal(await checkbox('MTS (mts)').isChecked(), false);
    await shoot(page, 'client-filter-new');
    await button('Save').click();
    await expectStatus('Client filter saved.');
    await expectLayout();
    if (pathname() !== '/admin/client-filters') await goNav('Client filters', '/admin/client-filters');
    assert.ok((await page.locator('main').innerText()).includes('Beeline VIP'), 'the list shows Beeline VIP');
    await shoot(page, 'client-filters');
  });

  step('new mailing: counter, defaults in the viewer\'s zone, live match count, save', async () => {
    await goNav('Mailings', '/admin/mailings');
    await shoot(page, 'mailings-empty');
    await link('New mailing').click();
    await page.waitForURL((u) => u.pathname === '/admin/mailings/new');
    await expectH1('New mailing');
    await expectLayout();

    // Start = now and End = now + 1 day, as wall-clock times in the viewer's zone.
    const start = field('Start');
    const end = field('End');
    assert.equal(await start.getAttribute('type'), 'datetime-local');
    assert.equal(await end.getAttribute('type'), 'datetime-local');
    const startAt = naive(await start.inputValue());
    const endAt = naive(await end.inputValue());
    const now = naiveNow(ZONE);
    assert.ok(Math.abs(startAt - now) <= 5 * 60_000, `Start ${await start.inputValue()} is now in ${ZONE}`);
    assert.ok(Math.abs(endAt - startAt - 86_400_000) <= 2 * 60_000, `End ${await end.inputValue()} is a day after Start`);

    // The live character counter.
    const text = field('Text');
    assert.equal(await text.evaluate((e) => e.tagName), 'TEXTAREA');
    await text.pressSequentially('Hello');
    const count = page.locator('#text-hint');
    await eventually(() => count.innerText(), (s) => /(^|\D)5(\D|$)/.test(s), { message: '#text-hint to say 5' });
    await text.fill(MAILING_TEXT);
    const length = String(MAILING_TEXT.length);
    await eventually(() => count.innerText(), (s) => new RegExp(`(^|\\D)${length}(\\D|$)`).test(s), {
      message: `#text-hint to say ${length}`,
    });

    // The other fields of the contract.
    const saved = field('Saved client filter');
    assert.equal(await saved.evaluate((e) => e.tagName), 'SELECT');
    const options = await saved.locator('option').allInnerTexts();
    assert.equal(options[0]?.trim(), 'None', `the first option is None (${options})`);
    assert.ok(options.some((o) => o.includes('Beeline VIP')), `the saved filter Beeline VIP is offered (${options})`);
    assert.equal(await field('Window from').getAttribute('type'), 'time');
    assert.equal(await field('Window until').getAttribute('type'), 'time');
    await checkbox('Local time').waitFor();
    await checkbox('MTS (mts)').waitFor();
    await checkbox('vip').waitFor();

    // How many clients match, live.
    const matches = page.locator('output#match-count');
    const says = (n) => (s) => new RegExp(`(^|\\D)${n} clients? match`).test(s);
    await eventually(() => matches.innerText(), says(3), { message: '"3 clients match" with nothing ticked' });
    await checkbox('Beeline (bln)').check();
    await eventually(() => matches.innerText(), says(2), { message: '"2 clients match" with Beeline ticked' });
    await shoot(page, 'mailing-new-beeline');
    await checkbox('Beeline (bln)').uncheck();
    await eventually(() => matches.innerText(), says(3), { message: '"3 clients match" again' });
    await shoot(page, 'mailing-new');

    // It starts a few seconds from now, so the pages that follow watch it start.
    await start.fill(datetimeLocal(naiveNow(ZONE) + START_IN_MS));
    await button('Save').click();
    await page.waitForURL((u) => /^\/admin\/mailings\/[^/]+$/.test(u.pathname) && u.pathname !== '/admin/mailings/new');
    shared.mailingId = decodeURIComponent(pathname().split('/').pop());
    shared.mailingPath = pathname();
    await expectH1(`Mailing #${shared.mailingId}`);
    await expectStatus('Mailing saved.');
    await expectLayout();
    // Not started yet: no messages, and the page watches for the start by itself.
    assert.match(await page.locator('#mailing-messages').innerText(), /messages appear once the mailing starts/);
    assert.ok(await page.locator('[data-live]').count(), 'the page refreshes itself');
    await page.evaluate(() => {
      window.__notReloaded = true;
    });
    await shoot(page, 'mailing-saved');
  });

  step('dashboard: a mailing that starts while it is open moves from Upcoming to Running by itself', async () => {
    // In a second tab, so the mailing's page stays open in the first.
    const tab = await browser.context.newPage();
    tab.on('pageerror', (error) => pageErrors.push(`${tab.url()}: ${error.message}`));
    try {
      await tab.goto(url());
      const name = `Mailing #${shared.mailingId}`;
      await tab.getByRole('link', { name, exact: true }).waitFor();
      assert.equal(await dashboardSectionOf(tab, name), 'Upcoming', `${name} is upcoming`);
      assert.equal(await tab.getByText('Nothing is running.').count(), 1, 'nothing runs yet');
      await tab.evaluate(() => {
        window.__notReloaded = true;
      });
      await shoot(tab, 'dashboard-upcoming');
      await eventually(() => dashboardSectionOf(tab, name), (section) => section === 'Running', {
        timeout: START_IN_MS + 20_000,
        interval: 250,
        message: `${name} to move to Running`,
      });
      assert.equal(await tab.evaluate(() => window.__notReloaded), true, 'the dashboard was updated without a reload');
      await shoot(tab, 'dashboard-started');
    } finally {
      await tab.close();
    }
  });

  step('mailing page: the messages appear and progress reaches 100 in place, counts, chart, messages and filter', async (t) => {
    await page.bringToFront();
    const bar = page.getByRole('progressbar', { name: 'Delivery progress', exact: true });
    await bar.waitFor({ state: 'visible' });
    const first = Number(await bar.getAttribute('aria-valuenow'));
    // The page showed no messages when it was saved (the step before); they appear in place.
    const messageRows = page.getByRole('table', { name: 'Messages', exact: true }).getByRole('row').filter({ hasText: /7900000000\d/ });
    await eventually(
      () => messageRows.evaluateAll((rows) => rows.map((row) => row.innerText)),
      (rows) => rows.length === 3 && rows.every((row) => /\bsent\b/.test(row)),
      { timeout: 60_000, interval: 250, message: 'three sent messages in the list' },
    );
    assert.equal(await page.evaluate(() => window.__notReloaded), true, 'the messages appeared without a reload');
    await eventually(
      async () => {
        const value = Number(await bar.getAttribute('aria-valuenow'));
        assert.ok(value >= 0 && value <= 100, `aria-valuenow ${value} within 0..100`);
        return value;
      },
      (value) => value === 100,
      { timeout: 60_000, interval: 250, message: 'Delivery progress to reach 100' },
    );
    assert.equal(await page.evaluate(() => window.__notReloaded), true, 'the progress was updated without a reload');
    assert.match(await page.locator('#mailing-progress').innerText(), /100 % done · 3 of 3 sent/);
    t.diagnostic(first < 100 ? `progress went from ${first} to 100 in place` : 'the mailing was delivered before the page loaded');
    await shoot(page, 'mailing-delivered');

    // Reload, so what follows checks the page as rendered after delivery.
    await page.reload();
    await expectH1(`Mailing #${shared.mailingId}`);
    await expectLayout();
    assert.equal(await bar.getAttribute('aria-valuenow'), '100');

    const counts = page.getByRole('table', { name: 'Counts by status', exact: true });
    await counts.waitFor({ state: 'visible' });
    const byStatus = Object.fromEntries(
      await counts.locator('tr').evaluateAll((rows) =>
        rows
          .map((row) => [row.querySelector('th[scope=row]')?.textContent.trim().toLowerCase(), row.querySelector('td')?.textContent.trim()])
          .filter(([status]) => status),
      ),
    );
    for (const status of STATUSES) assert.ok(status in byStatus, `a "${status}" row in Counts by status (${JSON.stringify(byStatus)})`);
    assert.equal(byStatus.sent, '3', 'three sent');
    assert.equal(byStatus.total, '3', 'three in total');

    const chart = page.locator('svg[role="img"][aria-label^="Messages by status"]');
    assert.equal(await chart.count(), 1, 'one chart labelled "Messages by status…"');
    assert.ok(await chart.isVisible(), 'the chart is visible');

    const messages = page.getByRole('table', { name: 'Messages', exact: true });
    const headers = (await messages.getByRole('columnheader').allInnerTexts()).map((h) => h.trim());
    for (const column of ['Phone', 'Status', 'Attempts', 'Last error', 'Sent at']) {
      assert.ok(headers.includes(column), `a "${column}" column in Messages (${headers})`);
    }
    for (const phone of PHONES) assert.equal(await rowsMatching(messages, phone).count(), 1, `a message to ${phone}`);
    assert.equal(await rowsMatching(messages, /7900000000\d/).count(), 3);

    await button('Cancel mailing').waitFor();
    await button('Delete mailing').waitFor();
    await page.getByRole('link', { name: /^Edit\b/ }).first().waitFor();
    assert.equal(await field('Status').evaluate((e) => e.tagName), 'SELECT', 'the filter\'s Status is a select');
    await shoot(page, 'mailing');

    await field('Phone').fill(PHONES[2]);
    await button('Filter').click();
    await page.waitForLoadState('load');
    await eventually(() => rowsMatching(messages, /7900000000\d/).count(), (n) => n === 1, {
      message: 'one message after filtering by phone',
    });
    assert.equal(await rowsMatching(messages, PHONES[2]).count(), 1);
    await expectLayout();
    await shoot(page, 'mailing-filtered');
  });

  step('a running mailing: locked fields are read-only, problems are in the form\'s words, Save sends what may change', async () => {
    await page.goto(url(shared.mailingPath.replace(/^\/admin/, '')));
    await page.getByRole('link', { name: 'Edit', exact: true }).click();
    await page.waitForURL((u) => u.pathname === `${shared.mailingPath}/edit`);
    await expectH1(`Edit mailing #${shared.mailingId}`);
    await expectLayout();
    assert.match(await page.locator('#locked-note').innerText(), /running.*cannot change once it has started/);
    // Locked: the start, local time and recipients; they say why.
    for (const control of [field('Start'), checkbox('Local time'), checkbox('Beeline (bln)'), checkbox('vip'), field('Saved client filter')]) {
      assert.equal(await control.isDisabled(), true, `${control} is read-only`);
    }
    assert.match(await page.locator('#start_at-hint').innerText(), /cannot change once the mailing has started/);
    assert.notEqual(await field('Start').inputValue(), '', 'the locked start still shows its value');
    // Still editable: the text, end and window.
    for (const control of [field('Text'), field('End'), field('Window from'), field('Window until')]) {
      assert.equal(await control.isEnabled(), true, `${control} can be changed`);
    }
    await shoot(page, 'mailing-edit-running');

    // An end before the start is refused, in the form's words, beside End.
    const end = await field('End').inputValue();
    await field('End').fill('2000-01-01T10:00');
    const refused = await submitForm(button('Save'));
    assert.equal(refused.status(), 422);
    const problems = await expectProblemsBesideTheirFields();
    assert.equal(problems['end_at-error'], 'End must be later than Start');
    assert.equal(await field('Start').isDisabled(), true, 'still locked after the refusal');
    await shoot(page, 'mailing-edit-running-refused');

    const text = `${MAILING_TEXT} (changed while running)`;
    await field('Text').fill(text);
    await field('End').fill(end);
    const [saved] = await Promise.all([
      page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith(shared.mailingPath)),
      button('Save').click(),
    ]);
    const sent = new URLSearchParams(saved.postData() ?? '');
    for (const locked of ['start_at', 'local_time', 'operator_codes', 'tags', 'client_filter_id']) {
      assert.equal(sent.has(locked), false, `the locked ${locked} is not sent`);
    }
    await expectStatus('Mailing saved.');
    assert.equal(pathname(), shared.mailingPath);
    assert.ok((await page.locator('.details').innerText()).includes(text), 'the new text is shown');

    // The list of mailings refreshes itself too while one of them runs.
    await goNav('Mailings', '/admin/mailings');
    assert.equal(await page.locator('#mailings-live[data-live]').count(), 1, 'the list refreshes itself');
  });

  step('dashboard: shows the mailing, also at a phone\'s size', async () => {
    await nav().getByRole('link', { name: 'Dashboard', exact: true }).click();
    await page.waitForURL((u) => u.pathname === '/admin' || u.pathname === '/admin/');
    await expectH1('Dashboard');
    await expectLayout();
    await page.getByRole('heading', { name: 'Running', exact: true }).first().waitFor();
    await page.getByRole('heading', { name: 'Upcoming', exact: true }).first().waitFor();
    const name = `Mailing #${shared.mailingId}`;
    await link(name).waitFor({ state: 'visible' });
    // Started and not yet ended (it ends in a day), so it is listed under Running.
    const section = await link(name).evaluate((a) => {
      const headings = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].filter((h) =>
        ['Running', 'Upcoming'].includes(h.textContent.trim()),
      );
      let last = null;
      for (const h of headings) if (h.compareDocumentPosition(a) & Node.DOCUMENT_POSITION_FOLLOWING) last = h;
      return last?.textContent.trim() ?? null;
    });
    assert.equal(section, 'Running', `${name} is listed under Running`);
    const bars = page.getByRole('progressbar');
    assert.ok((await bars.count()) >= 1, 'a progressbar on the dashboard');
    const values = await bars.evaluateAll((all) => all.map((b) => b.getAttribute('aria-valuenow')));
    assert.ok(values.includes('100'), `the delivered mailing's progressbar says 100 (${values})`);
    await shoot(page, 'dashboard');

    const viewport = page.viewportSize();
    await page.setViewportSize({ width: 390, height: 844 });
    await link(name).waitFor({ state: 'visible' });
    await shoot(page, 'dashboard-phone');
    await page.setViewportSize(viewport);
  });

  step('a mailing that would reach nobody is saved with a warning on its page', async () => {
    await goNav('Mailings', '/admin/mailings');
    await link('New mailing').click();
    await page.waitForURL((u) => u.pathname === '/admin/mailings/new');
    await field('Text').fill('Nobody will read this');
    // The MTS client carries no tag, so MTS and vip together match nobody.
    await checkbox('MTS (mts)').check();
    await checkbox('vip').check();
    await eventually(() => page.locator('output#match-count').innerText(), (s) => /(^|\D)0 clients match/.test(s), {
      message: '"0 clients match"',
    });
    await button('Save').click();
    await page.waitForURL((u) => /^\/admin\/mailings\/\d+$/.test(u.pathname));
    await expectStatus('Mailing saved.');
    const warnings = page.locator('.warnings');
    assert.match(await warnings.innerText(), /No client matches the filter, so the mailing reaches nobody/);
    shared.nobodyPath = pathname();
    await shoot(page, 'mailing-warning');
  });

  step('pause and resume a running mailing from its page: status, notice, buttons and pause history follow', async () => {
    await page.goto(url(shared.mailingPath.replace(/^\/admin/, '')));
    await expectH1(`Mailing #${shared.mailingId}`);
    const pauses = page.locator('#mailing-pauses');
    assert.match(await pauses.innerText(), /Never paused/);
    assert.equal(await button('Resume mailing').count(), 0, 'a running mailing offers no Resume');

    const paused = await submitForm(button('Pause mailing'));
    assert.equal(paused.status(), 303, 'the pause redirects to the mailing\'s page');
    await expectStatus('Mailing paused.');
    await expectLayout();
    assert.equal(await statusBadge(), 'paused');
    assert.match(await page.locator('#paused-note').innerText(), /^Paused by hand since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\./);
    assert.equal(await button('Pause mailing').count(), 0, 'a paused mailing offers no Pause');
    await button('Resume mailing').waitFor();
    await button('Cancel mailing').waitFor();
    await page.getByRole('link', { name: 'Edit', exact: true }).waitFor();
    const history = page.getByRole('table', { name: 'Pause history', exact: true });
    assert.equal(await rowsMatching(history, /still paused/).count(), 1, 'one pause, still lasting');
    assert.equal(await rowsMatching(history, /Paused by hand/).count(), 1);
    await shoot(page, 'mailing-paused');

    // The list and the dashboard say so too.
    await goNav('Mailings', '/admin/mailings');
    const card = page.locator('li.card').filter({ has: link(`Mailing #${shared.mailingId}`) });
    assert.equal(await card.locator('.badge').innerText(), 'paused');
    assert.match(await card.innerText(), /Paused by hand since/);
    await goNav('Dashboard', '/admin', 'Dashboard');
    assert.equal(await dashboardSectionOf(page, `Mailing #${shared.mailingId}`), 'Paused');
    await shoot(page, 'dashboard-paused');

    await page.goto(url(shared.mailingPath.replace(/^\/admin/, '')));
    const resumed = await submitForm(button('Resume mailing'));
    assert.equal(resumed.status(), 303);
    await expectStatus('Mailing resumed.');
    assert.equal(await statusBadge(), 'running');
    assert.equal(await page.locator('#paused-note').count(), 0, 'no pause notice once resumed');
    await button('Pause mailing').waitFor();
    assert.equal(await button('Resume mailing').count(), 0);
    const row = rowsMatching(history, /Paused by hand/);
    assert.equal(await row.count(), 1);
    const cells = (await row.getByRole('cell').allInnerTexts()).map((c) => c.trim());
    assert.match(cells[0], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/, `began: ${cells}`);
    assert.match(cells[1], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/, `ended: ${cells}`);
    assert.match(cells[2], /^\d+ (s|min)/, `lasted: ${cells}`);
    assert.match(await pauses.innerText(), /Paused in all\s+\d+ (s|min)/);
    await shoot(page, 'mailing-resumed');
  });

  step('pausing a mailing cancelled meanwhile is refused above its page', async () => {
    await page.goto(url(shared.nobodyPath.replace(/^\/admin/, '')));
    await button('Pause mailing').waitFor();
    // Keep the page as it is (no live refresh) while the mailing is cancelled elsewhere.
    await page.route('**/live*', (route) => route.abort());
    try {
      const token = await page.locator('input[name=csrf_token]').first().inputValue();
      const cancelled = await page.request.post(url(`${shared.nobodyPath.replace(/^\/admin/, '')}/cancel`), {
        form: { csrf_token: token },
        maxRedirects: 0,
      });
      assert.equal(cancelled.status(), 303, 'cancelled in the background');
      const refused = await submitForm(button('Pause mailing'));
      assert.equal(refused.status(), 409);
    } finally {
      await page.unroute('**/live*');
    }
    const alert = page.getByRole('alert').filter({ hasText: 'Not done: a cancelled mailing cannot be paused or resumed.' });
    await alert.first().waitFor({ state: 'visible' });
    assert.equal(await statusBadge(), 'cancelled');
    assert.equal(await button('Pause mailing').count(), 0, 'a cancelled mailing offers no Pause');
    assert.equal(await button('Resume mailing').count(), 0, 'nor Resume');
    await shoot(page, 'mailing-pause-refused');
  });

  step('the frequency cap and auto-pause rule: problems beside their fields, and they round-trip through the form', async () => {
    await goNav('Mailings', '/admin/mailings');
    await link('New mailing').click();
    await page.waitForURL((u) => u.pathname === '/admin/mailings/new');
    await field('Text').fill('Capped and watched');
    // Starts in an hour, so each save replaces the whole mailing.
    await field('Start').fill(datetimeLocal(naiveNow(ZONE) + 3_600_000));
    await field('Max messages').fill('0');
    await field('Failure share').fill('1.5');
    const refused = await submitForm(button('Save'));
    assert.equal(refused.status(), 422);
    const problems = await expectProblemsBesideTheirFields();
    assert.equal(problems['cap_max-error'], 'Max messages must be a whole number from 1 to 1000');
    assert.equal(problems['cap_hours-error'], 'Per hours is required');
    assert.equal(problems['auto_pause_share-error'], 'Failure share must be a number from 0 up to but not including 1, such as 0.8');
    assert.equal(await field('Max messages').inputValue(), '0', 'what was typed stays');
    await shoot(page, 'mailing-rules-refused');

    await field('Max messages').fill('2');
    await field('Per hours').fill('24');
    await field('Auto-pause').selectOption('on');
    await field('Attempts judged').fill('3');
    await field('Failure share').fill('0.5');
    await button('Save').click();
    await page.waitForURL((u) => /^\/admin\/mailings\/\d+$/.test(u.pathname));
    await expectStatus('Mailing saved.');
    const path = pathname();
    const rules = async () => ({
      cap: await detail('Frequency cap'),
      autoPause: await detail('Auto-pause'),
    });
    const own = {
      cap: '2 messages per 24 hours to each client, from all mailings together',
      autoPause: 'On; it pauses itself when more than 50 % of its latest 3 attempts failed',
    };
    assert.deepEqual(await rules(), own);
    await shoot(page, 'mailing-rules');

    // The form shows them again, and saving another text keeps them.
    await page.getByRole('link', { name: 'Edit', exact: true }).click();
    await page.waitForURL((u) => u.pathname === `${path}/edit`);
    assert.equal(await field('Max messages').inputValue(), '2');
    assert.equal(await field('Per hours').inputValue(), '24');
    assert.equal(await field('Auto-pause').inputValue(), 'on');
    assert.equal(await field('Attempts judged').inputValue(), '3');
    assert.equal(await field('Failure share').inputValue(), '0.5');
    await field('Text').fill('Capped and watched, new words');
    await button('Save').click();
    await expectStatus('Mailing saved.');
    assert.deepEqual(await rules(), own, 'an edit keeps the rules the form shows');

    // Emptied, they are the deployment's again.
    await page.getByRole('link', { name: 'Edit', exact: true }).click();
    await page.waitForURL((u) => u.pathname === `${path}/edit`);
    await field('Max messages').fill('');
    await field('Per hours').fill('');
    await field('Auto-pause').selectOption('');
    await field('Attempts judged').fill('');
    await field('Failure share').fill('');
    await button('Save').click();
    await expectStatus('Mailing saved.');
    assert.deepEqual(await rules(), { cap: "The deployment's, if it sets one", autoPause: 'As the deployment says' });
    await shoot(page, 'mailing-rules-cleared');
  });

  step('a failing provider pauses a mailing by itself, which says why; after its end, a resend reaches the clients it missed', async () => {
    await simFaults({ error_500_share: 1.0 });
    try {
      await goNav('Mailings', '/admin/mailings');
      await link('New mailing').click();
      await page.waitForURL((u) => u.pathname === '/admin/mailings/new');
      await field('Text').fill('Sent while the provider fails');
      // Ends soon, so that what waits expires while the test watches.
      await field('End').fill(datetimeLocal(naiveNow(ZONE) + FAILING_FOR_MS));
      await field('Auto-pause').selectOption('on');
      await field('Attempts judged').fill('3');
      await field('Failure share').fill('0.5');
      await button('Save').click();
      await page.waitForURL((u) => /^\/admin\/mailings\/\d+$/.test(u.pathname));
      await expectStatus('Mailing saved.');
      shared.failingId = decodeURIComponent(pathname().split('/').pop());
      shared.failingPath = pathname();
      await page.evaluate(() => {
        window.__notReloaded = true;
      });
      // The page shows the pause by itself.
      const note = page.locator('#paused-note');
      await eventually(() => note.innerText(), (text) => /Paused itself: the provider was failing/.test(text), {
        timeout: 30_000,
        interval: 250,
        message: 'the notice that the mailing paused itself',
      });
      assert.match(await note.innerText(), /\d+ of the last 3 attempts failed at the provider/);
      assert.match(await note.innerText(), /Resume it once the provider works again/);
      assert.equal(await page.evaluate(() => window.__notReloaded), true, 'the notice appeared without a reload');
      assert.equal(await statusBadge(), 'paused');
      await button('Resume mailing').waitFor();
      const history = page.getByRole('table', { name: 'Pause history', exact: true });
      assert.equal(await rowsMatching(history, /Paused itself: the provider was failing/).count(), 1);
      assert.match(await page.locator('#mailing-pauses').innerText(), /Paused itself\s+1 time\b/);
      await shoot(page, 'mailing-paused-itself');
    } finally {
      await simFaults({ error_500_share: 0 });
    }

    // Its end comes while it is paused: what waits expires, and the pause ended with it.
    await eventually(
      async () => {
        await page.reload();
        return { status: await statusBadge(), counts: await countsByStatus() };
      },
      (seen) => seen.status === 'finished' && seen.counts.expired === '3',
      { timeout: FAILING_FOR_MS + 60_000, interval: 1_000, message: 'the mailing to finish with three expired messages' },
    );
    const history = page.getByRole('table', { name: 'Pause history', exact: true });
    assert.equal(await rowsMatching(history, /with the mailing/).count(), 1, 'the pause ended with the mailing');
    assert.equal(await button('Resume mailing').count(), 0, 'a finished mailing offers no Resume');

    // Resending to clients whose messages failed: there are none.
    const resend = page.getByRole('region', { name: 'Resend', exact: true });
    await resend.waitFor();
    assert.equal(await checkbox('expired (3)').isChecked(), true, 'expired is ticked at first');
    assert.equal(await checkbox('failed (0)').isChecked(), true, 'failed is ticked at first');
    await checkbox('expired (3)').uncheck();
    await shoot(page, 'mailing-resend');
    const refused = await submitForm(resend.getByRole('button', { name: 'Resend', exact: true }));
    assert.equal(refused.status(), 422);
    const problems = await expectProblemsBesideTheirFields();
    assert.match(problems['resend_statuses-error'] ?? '', /^Statuses: no message of the mailing ended so .* the resend would reach nobody/);
    assert.equal(await checkbox('expired (3)').isChecked(), false, 'the ticks stay as they were');
    await shoot(page, 'mailing-resend-refused');

    await checkbox('expired (3)').check();
    await checkbox('failed (0)').uncheck();
    await resend.getByRole('button', { name: 'Resend', exact: true }).click();
    await page.waitForURL((u) => /^\/admin\/mailings\/\d+$/.test(u.pathname) && u.pathname !== shared.failingPath);
    await expectStatus('Mailing created.');
    await expectLayout();
    const original = page.locator('.details').getByRole('link', { name: `#${shared.failingId}`, exact: true });
    assert.equal(await original.getAttribute('href'), shared.failingPath, 'Resend of links the original');
    assert.match(await detail('Resend of'), new RegExp(`^#${shared.failingId}$`));
    assert.equal(await detail('Reaches'), `the clients picked from mailing #${shared.failingId} when this resend was made`);
    assert.equal(await page.locator('.details .text').innerText(), 'Sent while the provider fails');
    await eventually(() => countsByStatus(), (counts) => counts.sent === '3' && counts.total === '3', {
      timeout: 60_000,
      interval: 500,
      message: 'the resend to deliver to the three clients',
    });
    await shoot(page, 'mailing-resent');
  });

  step('CSRF: posts without the token or with a wrong one are refused with 403', async () => {
    // page.request shares the context's cookies: the refusals below are for the token alone.
    const signedIn = await page.request.get(url('/operators'), { maxRedirects: 0 });
    assert.equal(signedIn.status(), 200, 'the request context carries the session');
    const missing = await page.request.post(url('/operators'), {
      form: { code: 'nocsrf', name: 'No CSRF' },
      maxRedirects: 0,
    });
    assert.equal(missing.status(), 403, 'a post without csrf_token');
    const wrong = await page.request.post(url('/operators'), {
      form: { code: 'nocsrf', name: 'No CSRF', csrf_token: 'not-the-token' },
      maxRedirects: 0,
    });
    assert.equal(wrong.status(), 403, 'a post with a wrong csrf_token');
    await goNav('Operators', '/admin/operators');
    assert.ok(!(await bodyText()).includes('nocsrf'), 'nothing was saved');
    await shoot(page, 'operators-after-csrf');
  });

  step(`the viewer's time zone (${ZONE}) is named on the page`, async () => {
    await page.goto(url(shared.mailingPath.replace(/^\/admin/, '')));
    await expectH1(`Mailing #${shared.mailingId}`);
    assert.ok(await page.getByText(ZONE).first().isVisible(), `"${ZONE}" is visible`);
  });

  step('log out ends the session', async () => {
    await button('Log out').click();
    await page.waitForURL((u) => u.pathname === '/admin/login');
    await expectH1('Log in');
    await shoot(page, 'logged-out');
    await page.goto(url());
    assert.equal(pathname(), '/admin/login', 'GET /admin redirects to the login page again');
    // The old cookie no longer opens a session, even when sent again.
    const replay = await request.newContext({
      extraHTTPHeaders: { Cookie: `${SESSION_COOKIE}=${shared.sessionCookie.value}` },
    });
    try {
      const response = await replay.get(url(), { maxRedirects: 0 });
      assert.ok(response.status() >= 300 && response.status() < 400, `a redirect, not ${response.status()}`);
      assert.match(response.headers().location ?? '', /\/admin\/login/);
    } finally {
      await replay.dispose();
    }
  });

  step('no script errors and no failed requests on any page', async () => {
    assert.deepEqual(pageErrors, [], 'uncaught errors in the pages\' scripts');
    assert.deepEqual(badResponses, [], 'server errors, or failed resources and live updates');
  });
});
