// Personalised text and SMS parts in the admin web UI (/admin), in headless Chromium against a
// `mailing` instance of the test's own: the mailing form's counter agrees with the table of
// hand-worked counts in fixtures/sms-parts.json and with the Preview of every text of it the
// API takes; the Preview shows recipients, parts and the cost at the operators' prices; a
// personalised mailing saved from the form reaches the provider with each client's own text,
// and its page shows each message's text and parts. One scenario in order; after a failed step
// the rest are skipped, with a screenshot and the instance's log tail.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe } from 'node:test';
import {
  artifactsDir, eventually, launchBrowser, repoRoot, scenarioSteps, screenshotter, startInstance,
} from '../harness.js';

const TABLE = JSON.parse(fs.readFileSync(path.join(repoRoot, 'fixtures', 'sms-parts.json'), 'utf8'));
const GREETING = 'Здравствуйте, {{ attributes.name | default: "клиент" }}!';

let instance;
let browser;
let page;
let shoot;
let base;
let token;

const step = scenarioSteps('text-', () => ({ page, instance }));

const url = (suffix = '') => `${base}${suffix}`;
const field = (label) => page.getByLabel(label, { exact: true });
const button = (name) => page.getByRole('button', { name, exact: true });

/** A call to the JSON API as the admin. */
async function api(method, pathname, body) {
  const response = await fetch(`${instance.origin}/api/v1${pathname}`, {
    method,
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/** The counter's reading: "… · UCS-2 · 71 SMS characters in 2 parts …". */
function reading(counter) {
  const found = /· (GSM-7|UCS-2) · (\d+) SMS characters in (\d+) parts?/.exec(counter);
  if (!found) return null;
  return {
    encoding: found[1] === 'GSM-7' ? 'gsm7' : 'ucs2',
    characters: Number(found[2]),
    parts: Number(found[3]),
  };
}

const textOf = (known) => known.text.map(([piece, times]) => piece.repeat(times)).join('');

describe('personalised text and SMS parts in the admin web UI', { concurrency: 1, timeout: 5 * 60_000 }, () => {
  before(async () => {
    instance = await startInstance({ logFile: path.join(artifactsDir, 'text-mailing.log') });
    base = `${instance.origin}/admin`;
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
  });

  step('two priced operators and two clients, one with a name, are set up over the API', async () => {
    for (const [code, name, price] of [['mts', 'MTS', '0.45'], ['bln', 'Beeline', '0.50']]) {
      const created = await api('POST', '/operators', { code, name, price_per_segment: price });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.price_per_segment, price);
    }
    // The first client by id has no name, so the Preview's first sample shows the fallbacks.
    for (const [phone, operator, attributes] of [
      ['79001110001', 'mts', {}],
      ['79001110002', 'bln', { name: 'Анна' }],
    ]) {
      const created = await api('POST', '/clients', {
        phone_number: phone, operator_code: operator, time_zone: 'UTC', attributes,
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    }
  });

  step('log in', async () => {
    await page.goto(url());
    await field('Username').fill('admin');
    await field('Password').fill('12345');
    await button('Log in').click();
    await page.waitForURL((u) => u.pathname === '/admin' || u.pathname === '/admin/');
  });

  step('the operators list shows each price per SMS part', async () => {
    await page.goto(url('/operators'));
    const mts = page.getByRole('table').locator('tbody tr').filter({ hasText: 'MTS' });
    assert.match(await mts.innerText(), /0\.45/);
  });

  step('the counter agrees with the hand-worked table and with the Preview of each text', async () => {
    await page.goto(url('/mailings/new'));
    const counter = page.locator('#text-hint');
    let previewed = 0;
    for (const known of TABLE) {
      const text = textOf(known);
      // A textarea holds a line break as LF alone, whatever was typed or pasted.
      if (text.includes('\r')) continue;
      const expected = { encoding: known.encoding, characters: known.characters, parts: known.parts };
      await field('Text').fill(text);
      const shown = await eventually(
        async () => reading(await counter.innerText()),
        (value) => JSON.stringify(value) === JSON.stringify(expected),
        { message: `the counter of ${known.why} to read ${JSON.stringify(expected)}` },
      );
      assert.deepEqual(shown, expected, known.why);
      const accepted = await api('POST', '/mailings/preview', {
        text, start_at: new Date().toISOString(), end_at: new Date(Date.now() + 3600_000).toISOString(), filter: {},
      });
      if (accepted.status !== 200) continue;
      await button('Preview').click();
      const first = page.locator('#preview-samples tbody tr').first();
      await first.waitFor({ state: 'visible' });
      const cells = await first.locator('td').allInnerTexts();
      assert.deepEqual(
        { encoding: cells[2], characters: Number(cells[3]), parts: Number(cells[4]) },
        expected,
        `the Preview of ${known.why}`,
      );
      // The API's preview says the same of the same client.
      const sample = accepted.body.samples[0];
      assert.deepEqual(
        { encoding: sample.encoding, characters: sample.characters, parts: sample.segments },
        expected,
        `the API's preview of ${known.why}`,
      );
      await page.locator('#preview').evaluate((element) => { element.textContent = ''; });
      previewed += 1;
    }
    assert.ok(previewed >= 30, `only ${previewed} texts previewed`);
  });

  step('a text with an unknown variable gets a counter, and the Preview names the problem', async () => {
    await field('Text').fill('Hi {{ first_name }}!');
    await button('Preview').click();
    const problems = page.locator('#preview-result[role=alert]');
    await problems.waitFor({ state: 'visible' });
    assert.match(await problems.innerText(), /unknown variable "first_name" at character 7/);
    await shoot(page, 'text-preview-refused');
  });

  step('the Preview of a personalised text shows recipients, parts and cost by operator', async () => {
    await field('Text').fill(GREETING);
    await button('Preview').click();
    await page.locator('#preview-samples').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#preview-recipients').innerText(), '2');
    assert.equal(await page.locator('#preview-segments').innerText(), '2');
    assert.equal(await page.locator('#preview-cost').innerText(), '0.95');
    const samples = await page.locator('#preview-samples tbody tr').allInnerTexts();
    assert.match(samples[0], /Здравствуйте, клиент!/);
    assert.match(samples[1], /Здравствуйте, Анна!/);
    assert.match(await page.locator('#preview-costs').innerText(), /bln\s+1\s+1\s+0\.50\s+0\.50/);
    await shoot(page, 'text-preview');
  });

  step('saved, the mailing reaches each client with its own text, shown with its parts', async () => {
    await button('Save').click();
    await page.waitForURL((u) => /^\/admin\/mailings\/\d+$/.test(u.pathname));
    const id = Number(new URL(page.url()).pathname.split('/').pop());
    await eventually(
      async () => (await api('GET', `/mailings/${id}/stats`)).body,
      (stats) => stats.by_status.sent === 2,
      { timeout: 30_000, message: 'both messages to be sent' },
    );
    const stats = (await api('GET', `/mailings/${id}/stats`)).body;
    assert.equal(stats.segments_sent, 2);
    const texts = stats.messages.items.map((m) => [m.phone_number, m.text, m.encoding, m.segments]);
    assert.deepEqual(texts.sort(), [
      ['79001110001', 'Здравствуйте, клиент!', 'ucs2', 1],
      ['79001110002', 'Здравствуйте, Анна!', 'ucs2', 1],
    ]);
    await page.reload();
    const rows = page.locator('#mailing-messages tbody tr');
    await eventually(async () => (await rows.allInnerTexts()).join('\n'), (all) => /Анна!/.test(all) && /клиент!/.test(all));
    assert.match((await rows.allInnerTexts()).join('\n'), /Здравствуйте, Анна!\s+1 · ucs2/);
    assert.equal(await page.locator('#segments-sent').innerText(), '2');
    await shoot(page, 'text-mailing-sent');
  });
});
