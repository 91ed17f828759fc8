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

function throttledDelays(wharf: WharfProcess): number[] {
  return wharf
    .logs()
    .filter((l) => l.includes('"login throttled"'))
    .map((l) => Number((JSON.parse(l) as { delayMs?: number }).delayMs));
}

function countThrottled(wharf: WharfProcess): number {
  return throttledDelays(wharf).length;
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
    const detail = times.map((t) => t.toFixed(0)).join(', ');
    // The delays the server imposed, from its log: free failures first, then doubling from the
    // base delay up to the cap. (Wall-clock times alone cannot show the doubling: the
    // memory-hard password check itself varies by hundreds of ms on a busy machine.)
    await wharf.waitForLog((r) => r.event === 'login throttled' && countThrottled(wharf) === ATTEMPTS - FREE_FAILURES);
    const delays = throttledDelays(wharf);
    const expected = Array.from({ length: ATTEMPTS - FREE_FAILURES }, (_, i) => Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** i));
    assert.deepEqual(delays, expected);
    assert.ok(wharf.logs().some((l) => l.includes('"login throttled"') && l.includes('"client":"127.0.0.1"')));
    // And the client really waited them: every capped attempt took at least the cap.
    for (const t of times.slice(-8)) assert.ok(t >= MAX_DELAY_MS - 5, `attempt took ${t.toFixed(0)} ms; all: ${detail}`);
  });

  it('the right password still works (after the owed delay), and resets the count', async () => {
    const ok = await timedLogin(wharf.ports.pop3, BOB_PASSWORD);
    assert.match(ok.reply, /^\+OK/);
    const before = countThrottled(wharf);
    const next = await timedLogin(wharf.ports.pop3, 'guess-again');
    assert.match(next.reply, /^-ERR/);
    // The count was reset: this failure is a free one again, with no delay added.
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(countThrottled(wharf), before, 'a first failure after a success was throttled');
  });

  it('never logs the passwords tried', () => {
    const output = wharf.logs().join('\n') + wharf.stderr();
    assert.equal(output.includes('guess-'), false);
    assert.equal(output.includes(BOB_PASSWORD), false);
  });
});
