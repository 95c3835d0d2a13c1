// The browser tests' harness: a `mailing` instance of the tests' own (fresh SQLite database,
// free ports, log in the artifacts folder), headless Debian Chromium on a new empty profile
// through playwright-core, numbered full-page screenshots, and small polling assertions
// (playwright-core has no `expect`).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..', '..');
const targetDir = path.resolve(repoRoot, process.env.CARGO_TARGET_DIR || 'target');

export const mailingBin = process.env.MAILING_BIN
  ? path.resolve(process.env.MAILING_BIN)
  : path.join(targetDir, 'debug', 'mailing');
export const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
export const artifactsDir = path.join(targetDir, 'browser-artifacts');

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const READY_TIMEOUT_MS = 60_000;

// $0 is the mailing binary. fd 3 keeps the shell's stdin for the watcher, since a background
// job's own stdin is /dev/null.
const STOP_WHEN_STDIN_CLOSES = `
exec 3<&0
"$0" 3<&- </dev/null &
server=$!
( read _ <&3; kill -TERM "$server" 2>/dev/null ) &
watcher=$!
exec 3<&-
wait "$server"
status=$?
kill "$watcher" 2>/dev/null
exit "$status"
`;

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Empties the artifacts folder (screenshots and logs of the last run only). */
export function freshArtifactsDir() {
  fs.rmSync(artifactsDir, { recursive: true, force: true });
  fs.mkdirSync(artifactsDir, { recursive: true });
  return artifactsDir;
}

/** The last `lines` lines of a file, or a note that it cannot be read. */
export function tail(file, lines = 60) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines - 1).join('\n');
  } catch (error) {
    return `(cannot read ${file}: ${error.message})`;
  }
}

/**
 * Starts `mailing` (api, scheduler, sender and probe simulator in one process) on a fresh
 * SQLite database in a temporary folder and two free ports, and waits until its /readyz
 * answers 200. MAILING_* and PROBE_SIM_* variables of the caller's environment (such as a
 * developer's .env, which make exports) are not passed on, so the instance is always the dev
 * profile's: admin / 12345, no fixtures; `env` adds or replaces variables a test needs.
 */
export async function startInstance({ logFile = path.join(artifactsDir, 'mailing.log'), env: extraEnv = {}, httpPort: chosenPort } = {}) {
  if (!fs.existsSync(mailingBin)) {
    throw new Error(`no mailing binary at ${mailingBin}: build it with \`cargo build --bin mailing\` (or set MAILING_BIN)`);
  }
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailing-browser-'));
  const httpPort = chosenPort ?? (await freePort());
  let simPort = await freePort();
  while (simPort === httpPort) simPort = await freePort();

  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^(MAILING|PROBE_SIM)_/.test(key)),
  );
  Object.assign(env, {
    MAILING_DATABASE_URL: `sqlite://${path.join(dataDir, 'mailing.db')}`,
    MAILING_HTTP_ADDR: `127.0.0.1:${httpPort}`,
    PROBE_SIM_ADDR: `127.0.0.1:${simPort}`,
    MAILING_LOAD_FIXTURES: 'false',
    MAILING_SCHEDULER_HEALTH_ADDR: '127.0.0.1:0',
    MAILING_SENDER_HEALTH_ADDR: '127.0.0.1:0',
  }, extraEnv);

  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const log = fs.openSync(logFile, 'w');
  const started = Date.now();
  // A small shell runs mailing and stops it (SIGTERM) as soon as its stdin, a pipe from this
  // process, closes: when stop() closes it, and also when this process dies in any way, even
  // SIGKILLed, so no instance outlives its test run. It exits with mailing's status. It leads
  // a process group of its own, so a last-resort SIGKILL reaches mailing too.
  const child = spawn('/bin/sh', ['-c', STOP_WHEN_STDIN_CLOSES, mailingBin], {
    cwd: dataDir,
    env,
    stdio: ['pipe', log, log],
    detached: true,
  });
  fs.closeSync(log);
  child.stdin.on('error', () => {});
  let exited = null;
  const exit = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
    child.on('error', (error) => {
      exited = { error };
      resolve(exited);
    });
  });
  const killGroup = () => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  const killOnExit = () => {
    if (exited === null) killGroup();
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  const onSignal = (signal) => {
    process.exit(128 + (os.constants.signals[signal] ?? 1));
  };
  process.on('exit', killOnExit);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, onSignal);

  const origin = `http://127.0.0.1:${httpPort}`;
  const instance = {
    origin,
    base: `${origin}/admin`,
    /** The built-in probe simulator, whose `/_sim/config` sets the faults it answers with. */
    simOrigin: `http://127.0.0.1:${simPort}`,
    dataDir,
    logFile,
    pid: child.pid,
    startupMs: 0,
    tail: (lines) => tail(logFile, lines),
    async stop() {
      if (exited === null) {
        child.stdin.end();
        const stopped = await Promise.race([exit, sleep(10_000, null, { ref: false })]);
        if (stopped === null) {
          killGroup();
          await exit;
        }
      }
      process.off('exit', killOnExit);
      for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.off(signal, onSignal);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };

  while (true) {
    if (exited !== null) {
      const how = exited.error ? exited.error.message : `code ${exited.code}, signal ${exited.signal}`;
      await instance.stop();
      throw new Error(`mailing exited before it was ready (${how}); its log ${logFile} ends:\n${instance.tail()}`);
    }
    if (Date.now() - started > READY_TIMEOUT_MS) {
      await instance.stop();
      throw new Error(`mailing was not ready within ${READY_TIMEOUT_MS / 1000} s; its log ${logFile} ends:\n${instance.tail()}`);
    }
    try {
      const response = await fetch(`${origin}/readyz`, { signal: AbortSignal.timeout(2_000) });
      if (response.status === 200) break;
    } catch {
      // Not listening yet.
    }
    await sleep(100);
  }
  instance.startupMs = Date.now() - started;
  return instance;
}

/**
 * A real OpenID provider for single sign-on: `oidc-provider-mock` from the project's .venv
 * (`make test` installs it), on a free port, requiring a nonce. `setUser(sub, claims)` gives a
 * person claims such as `preferred_username` and `groups`; its sign-in page asks for the
 * subject (`sub`) and has an Authorize button. Stops with `stop()`, and with this process.
 */
export async function startOidcProvider({ logFile = path.join(artifactsDir, 'oidc-provider.log') } = {}) {
  const program = path.join(repoRoot, '.venv', 'bin', 'oidc-provider-mock');
  if (!fs.existsSync(program)) {
    throw new Error(`no OpenID provider at ${program}: run \`make test\` (it installs oidc-provider-mock into .venv)`);
  }
  const port = await freePort();
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const log = fs.openSync(logFile, 'w');
  const child = spawn(program, ['--host', '127.0.0.1', '--port', String(port), '--require-nonce', 'true'], {
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  const kill = () => child.kill('SIGKILL');
  process.on('exit', kill);
  const issuer = `http://127.0.0.1:${port}`;
  const started = Date.now();
  while (true) {
    if (child.exitCode !== null) throw new Error(`oidc-provider-mock exited; its log ends:\n${tail(logFile)}`);
    if (Date.now() - started > READY_TIMEOUT_MS) {
      kill();
      throw new Error(`oidc-provider-mock was not ready within ${READY_TIMEOUT_MS / 1000} s`);
    }
    try {
      const response = await fetch(`${issuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) break;
    } catch {
      // Not listening yet.
    }
    await sleep(100);
  }
  return {
    issuer,
    async setUser(sub, claims) {
      const response = await fetch(`${issuer}/users/${encodeURIComponent(sub)}`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(claims),
      });
      if (!response.ok) throw new Error(`setting ${sub}'s claims: ${response.status}`);
    },
    async stop() {
      process.off('exit', kill);
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(5_000)]);
        kill();
      }
    },
  };
}

/**
 * A real SMTP server for the report e-mail: aiosmtpd from the project's .venv (`make test`
 * installs it), run by crates/reports/smtp-sink/sink.py on a free port. `url` is the
 * MAILING_SMTP_URL that reaches it; `received()` lists the messages it took, as Python's e-mail
 * parser read them (subject, rcpt_tos, text, html, ...). Stops with `stop()`, and with this
 * process.
 */
export async function startSmtpSink({ logFile = path.join(artifactsDir, 'smtp-sink.log') } = {}) {
  const python = path.join(repoRoot, '.venv', 'bin', 'python');
  if (!fs.existsSync(path.join(repoRoot, '.venv', 'smtp-requirements.txt'))) {
    throw new Error('no aiosmtpd in .venv: run `make test` (it installs it)');
  }
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smtp-sink-'));
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const log = fs.openSync(logFile, 'w');
  const child = spawn(python, [path.join(repoRoot, 'crates', 'reports', 'smtp-sink', 'sink.py'), '--port', String(port), '--dir', dir], {
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  const kill = () => child.kill('SIGKILL');
  process.on('exit', kill);
  const started = Date.now();
  while (!fs.readFileSync(logFile, 'utf8').includes('ready')) {
    if (child.exitCode !== null) throw new Error(`the SMTP sink exited; its log ends:\n${tail(logFile)}`);
    if (Date.now() - started > READY_TIMEOUT_MS) {
      kill();
      throw new Error(`the SMTP sink was not ready within ${READY_TIMEOUT_MS / 1000} s`);
    }
    await sleep(100);
  }
  return {
    url: `smtp://127.0.0.1:${port}?tls=none`,
    received() {
      return fs.readdirSync(dir)
        .filter((name) => name.endsWith('.eml'))
        .sort()
        .map((name) => JSON.parse(fs.readFileSync(path.join(dir, name.replace(/\.eml$/, '.json')), 'utf8')));
    },
    async stop() {
      process.off('exit', kill);
      kill();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Debian's Chromium, headless, on a new empty profile in a temporary folder; the context has
 * the viewer's time zone and locale the UI contract names. Returns the context, its first page
 * and a `close()` that also removes the profile.
 */
export async function launchBrowser({ timezoneId = 'Asia/Yekaterinburg', locale = 'en-GB' } = {}) {
  if (!fs.existsSync(chromiumPath)) {
    throw new Error(`no Chromium at ${chromiumPath}: run \`make browser-deps\` (or set CHROMIUM)`);
  }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mailing-chromium-'));
  const removeProfile = () => {
    try {
      fs.rmSync(profile, { recursive: true, force: true });
    } catch {
      // Chromium may still be writing to it while this process exits.
    }
  };
  process.on('exit', removeProfile);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    args: CHROMIUM_ARGS,
    headless: true,
    timezoneId,
    locale,
    viewport: { width: 1280, height: 800 },
    acceptDownloads: false,
  });
  context.setDefaultTimeout(10_000);
  context.setDefaultNavigationTimeout(15_000);
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    async close() {
      await context.close().catch(() => {});
      process.off('exit', removeProfile);
      removeProfile();
    },
  };
}

/** Numbered full-page screenshots: `01-login.png`, `02-login-refused.png`, ... */
export function screenshotter(dir = artifactsDir) {
  let step = 0;
  const shoot = async (page, name) => {
    step += 1;
    const file = path.join(dir, `${String(step).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    return file;
  };
  return shoot;
}

/**
 * Polls `probe` until `check(value)` holds (or `probe` stops throwing) and returns the last
 * value; fails with `message` and the last value after `timeout` ms.
 */
export async function eventually(probe, check = () => true, { timeout = 10_000, interval = 100, message = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  let lastError;
  while (true) {
    try {
      last = await probe();
      lastError = undefined;
      if (check(last)) return last;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const seen = lastError ? `error: ${lastError.message}` : `last value: ${JSON.stringify(last)}`;
      throw new Error(`timed out after ${timeout} ms waiting for ${message} (${seen})`);
    }
    await sleep(interval);
  }
}

/**
 * The `step` of one scenario whose steps run in order and share what earlier steps made: after
 * a failed step the rest are skipped, and the failure leaves a full-page screenshot named
 * `<prefix>failed-<step>.png`, the page's address and the tail of the instance's log.
 * `current` gives the page and the instance as they are when a step fails.
 */
export function scenarioSteps(prefix, current) {
  let failed = false;
  return function step(name, body) {
    it(name, async (t) => {
      if (failed) {
        t.skip('an earlier step failed');
        return;
      }
      try {
        await body(t);
      } catch (error) {
        failed = true;
        const { page, instance } = current();
        const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
        const shot = path.join(artifactsDir, `${prefix}failed-${slug}.png`);
        await page?.screenshot({ path: shot, fullPage: true }).catch(() => {});
        const where = page ? `page: ${page.url()}\n` : '';
        const logTail = instance ? `--- the last lines of ${instance.logFile} ---\n${instance.tail(60)}` : '(no instance)';
        process.stderr.write(`\nstep "${name}" failed; ${where}screenshot: ${shot}\n${logTail}\n`);
        t.diagnostic(`screenshot: ${shot}; instance log: ${instance?.logFile}`);
        throw error;
      }
    });
  };
}
