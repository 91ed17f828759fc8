/**
 * Password guessing over POP3 from one address gets slower and slower (exponential back-off
 * from the configured base delay), through a real `wharf serve` with a config file.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTempDir, removeDir } from '../helpers/cli.js';
import { LineClient } from '../helpers/line-client.js';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';
import { addBob, BOB_PASSWORD } from './setup.js';

const FREE_FAILURES = 3;
const BASE_DELAY_MS = 20;
const MAX_DELAY_MS = 320;
const ATTEMPTS = 20;

/** Milliseconds from sending PASS to the reply, and the reply. */
async function timedLogin(port: number, password: string): Promise<{ ms: number; reply: string }> {
  const pop = await LineClient.connect(port);
  try {
    await pop.line();
    assert.match(await pop.pop3('user bob'), /^\+OK/);
    const start = process.hrtime.bigint();
    const reply = await pop.pop3(`pass ${password}`);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    return { ms, reply };
  } finally {
    pop.close();
  }
}

describe('login throttling', () => {
  let configDir: string;
  let wharf: WharfProcess;

  before(async () => {
    configDir = await makeTempDir('wharf-throttle-');
    const configFile = path.join(configDir, 'wharf.json');
    await writeFile(
      configFile,
      JSON.stringify({
        authThrottle: { freeFailures: FREE_FAILURES, baseDelayMs: BASE_DELAY_MS, maxDelayMs: MAX_DELAY_MS },
      }),
    );
    wharf = await startWharf({ env: { WHARF_CONFIG: configFile } });
    await addBob(wharf);
  });
  after(async () => {
    await wharf.stop();
    await wharf.removeData();
    await removeDir(configDir);
  });

  it(`${ATTEMPTS} failed POP3 logins from one address wait longer and longer`, async () => {
    const times: number[] = [];
    for (let i = 1; i <= ATTEMPTS; i++) {
      const { ms, reply } = await timedLogin(wharf.ports.pop3, `guess-${i}`);
      assert.match(reply, /^-ERR/);
      times.push(ms);
    }
    const free = times.slice(0, FREE_FAILURES);
    const capped = times.slice(-8);
    const freeAverage = free.reduce((a, b) => a + b, 0) / free.length;
    const detail = times.map((t) => t.toFixed(0)).join(', ');
    // The first failures cost only the password check; the later ones the capped delay on top.
    for (const t of capped) assert.ok(t >= MAX_DELAY_MS - 5, `attempt took ${t.toFixed(0)} ms; all: ${detail}`);
    const cappedAverage = capped.reduce((a, b) => a + b, 0) / capped.length;
    assert.ok(cappedAverage > freeAverage + MAX_DELAY_MS / 2, `times: ${detail}`);
    // Growing: the delay doubles from the base (20, 40, 80, 160, 320 ms) before it reaches the
    // cap; the margin leaves room for the password check's own jitter on a busy machine.
    assert.ok(times[FREE_FAILURES + 4] > times[FREE_FAILURES] + 150, `times: ${detail}`);

    const throttled = await wharf.waitForLog((r) => r.event === 'login throttled');
    assert.equal(throttled.client, '127.0.0.1');
  });

  it('the right password still works (after the owed delay), and resets the count', async () => {
    const ok = await timedLogin(wharf.ports.pop3, BOB_PASSWORD);
    assert.match(ok.reply, /^\+OK/);
    const next = await timedLogin(wharf.ports.pop3, 'guess-again');
    assert.match(next.reply, /^-ERR/);
    assert.ok(next.ms < MAX_DELAY_MS, `a first failure after success took ${next.ms.toFixed(0)} ms`);
  });

  it('never logs the passwords tried', () => {
    const output = wharf.logs().join('\n') + wharf.stderr();
    assert.equal(output.includes('guess-'), false);
    assert.equal(output.includes(BOB_PASSWORD), false);
  });
});
