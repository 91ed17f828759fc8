/**
 * POP3 retrieval benchmark: Wharf against Dovecot on the same machine, with the same client.
 * Each server gets the same 1,000 messages (~10 KB, realistic headers) in one user's mailbox
 * (Wharf through its own SMTP service, Dovecot as files in its Maildir, named as Dovecot's
 * delivery agent names them); then one client logs in and RETRs every message in turn. One
 * untimed round warms caches (and lets Dovecot build its index), then the timed rounds run.
 * Prints messages/s and MB/s of the RETR phase for both and the ratio wharf/dovecot, and the
 * same with login and QUIT included (where the servers' password hashing shows).
 *
 *   node dist/bench/pop3/run.js [--messages 1000] [--size 10240] [--rounds 3]
 *        [--only wharf|dovecot] [--keep]
 *
 * Options also come from the environment: BENCH_POP3_MESSAGES, BENCH_MSG_SIZE, BENCH_ROUNDS;
 * BENCH_WORKDIR moves the work directory (default bench/.work).
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { ensurePackages, fmt, freePort, intOption, log, makeWorkDir, median, removeDir, requireRoot, runMain, runSide, settle, waitFor } from '../lib/common.js';
import { makeMessage } from '../lib/message.js';
import { Pop3Connection } from '../lib/pop3-client.js';
import { deliverMessages } from '../lib/smtp-client.js';
import { startDovecot } from '../lib/dovecot.js';
import { startWharf } from '../lib/wharf.js';

const DOMAIN = 'bench.test';
const USER = { address: `pop@${DOMAIN}`, local: 'pop', password: 'bench-pop-pass' };
const SENDER = 'reports@sender.example';
const RUN_ID = 'pop3bench';

interface Round {
  /** Connect through QUIT, seconds. */
  sessionS: number;
  /** The RETR commands alone, seconds. */
  retrS: number;
  /** Message bytes received by RETR (as sent on the wire, dot-stuffed). */
  bytes: number;
}

interface Result {
  name: string;
  stored: number;
  rounds: Round[];
}

runMain(async () => {
  const { values } = parseArgs({
    options: {
      messages: { type: 'string' },
      size: { type: 'string' },
      rounds: { type: 'string' },
      only: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const count = intOption(values.messages, 'BENCH_POP3_MESSAGES', 1000, 1, 100_000);
  const size = intOption(values.size, 'BENCH_MSG_SIZE', 10_240, 200, 10_000_000);
  const rounds = intOption(values.rounds, 'BENCH_ROUNDS', 10, 1, 100);
  const only = values.only;
  if (only !== undefined && only !== 'wharf' && only !== 'dovecot') throw new Error('--only takes wharf or dovecot');
  const doWharf = only !== 'dovecot';
  const doDovecot = only !== 'wharf';
  if (doDovecot) {
    requireRoot('the Dovecot side of this benchmark');
    await ensurePackages('dovecot-pop3d');
  }

  const messages = Array.from({ length: count }, (_, i) => makeMessage({ from: SENDER, to: USER.address, size, runId: RUN_ID, seq: i + 1 }));
  const work = await makeWorkDir('pop3');
  log(`work directory ${work}`);
  const results: Result[] = [];

  const failures: string[] = [];
  const side = (name: string, body: () => Promise<void>) => runSide(failures, name, body);

  if (doWharf) await side('wharf', async () => {
    const dir = join(work, 'wharf');
    await mkdir(dir);
    const wharf = await startWharf({ dir, domain: DOMAIN, users: [{ address: USER.address, password: USER.password }] });
    log(`loading ${count} messages into Wharf over SMTP`);
    await deliverMessages(wharf.smtpPort, SENDER, USER.address, messages);
    const stored = await waitFor(`Wharf mailbox to hold ${count} messages`, 60_000, async () => {
      const n = await statCount(wharf.pop3Port);
      return n >= count ? n : undefined;
    }, 500);
    await settle();
    results.push({ name: 'wharf', stored, rounds: await measure('wharf', wharf.pop3Port, count, rounds) });
    await wharf.stop();
  });

  if (doDovecot) await side('dovecot', async () => {
    const dir = join(work, 'dovecot');
    await mkdir(dir);
    const dovecot = await startDovecot({ dir, port: await freePort(), users: [{ name: USER.local, password: USER.password }] });
    log(`loading ${count} messages into Dovecot's Maildir`);
    await dovecot.addMessages(USER.local, messages);
    const stored = await statCount(dovecot.port);
    if (stored !== count) throw new Error(`Dovecot reports ${stored} messages, expected ${count}`);
    await settle();
    results.push({ name: 'dovecot', stored, rounds: await measure('dovecot', dovecot.port, count, rounds) });
    await dovecot.stop();
  });

  printReport(results, { count, size, rounds });
  for (const f of failures) process.stdout.write(`FAILED ${f}\n`);
  if (values.keep || failures.length > 0) log(`kept work directory ${work}`);
  else await removeDir(work);
  if (failures.length > 0) process.exitCode = 1;
});


async function statCount(port: number): Promise<number> {
  const c = await Pop3Connection.open('127.0.0.1', port);
  try {
    await c.greeting();
    await c.login(USER.address, USER.password);
    return (await c.stat()).count;
  } finally {
    await c.quit();
  }
}

/** One session: log in, RETR 1..count in order, QUIT. */
async function retrieveAll(port: number, count: number): Promise<Round> {
  const t0 = performance.now();
  const c = await Pop3Connection.open('127.0.0.1', port);
  let bytes = 0;
  let t1 = t0;
  let t2 = t0;
  try {
    await c.greeting();
    await c.login(USER.address, USER.password);
    const st = await c.stat();
    if (st.count < count) throw new Error(`STAT says ${st.count} messages, expected ${count}`);
    t1 = performance.now();
    for (let i = 1; i <= count; i++) {
      const body = await c.retr(i);
      if (body.length < 100) throw new Error(`RETR ${i} returned only ${body.length} bytes`);
      bytes += body.length;
    }
    t2 = performance.now();
  } finally {
    await c.quit();
  }
  const t3 = performance.now();
  return { sessionS: (t3 - t0) / 1000, retrS: (t2 - t1) / 1000, bytes };
}

async function measure(name: string, port: number, count: number, rounds: number): Promise<Round[]> {
  const warm = await retrieveAll(port, count);
  log(`${name}: warm-up round RETR ${fmt(count / warm.retrS)} msgs/s (not counted)`);
  const out: Round[] = [];
  for (let r = 0; r < rounds; r++) {
    const round = await retrieveAll(port, count);
    log(`${name}: round ${r + 1}: RETR ${fmt(count / round.retrS)} msgs/s, ${fmt(round.bytes / 1e6 / round.retrS, 2)} MB/s; session ${fmt(round.sessionS, 3)} s`);
    out.push(round);
  }
  return out;
}

function printReport(results: Result[], p: { count: number; size: number; rounds: number }): void {
  const lines: string[] = [''];
  lines.push(`POP3 RETR: one client, ${p.count} messages of ~${p.size} bytes, RETR 1..${p.count} in one session; median of ${p.rounds} rounds after one warm-up round`);
  lines.push(`${'server'.padEnd(9)}${'msgs/s'.padStart(10)}${'MB/s'.padStart(9)}${'RETR s'.padStart(9)}${'with login+QUIT: s'.padStart(20)}${'msgs/s'.padStart(10)}${'bytes/round'.padStart(13)}`);
  const retrRate = new Map<string, number>();
  const sessionRate = new Map<string, number>();
  for (const r of results) {
    const retrS = median(r.rounds.map((x) => x.retrS));
    const sessionS = median(r.rounds.map((x) => x.sessionS));
    const bytes = median(r.rounds.map((x) => x.bytes));
    retrRate.set(r.name, p.count / retrS);
    sessionRate.set(r.name, p.count / sessionS);
    lines.push(
      `${r.name.padEnd(9)}${fmt(p.count / retrS).padStart(10)}${fmt(bytes / 1e6 / retrS, 2).padStart(9)}${fmt(retrS, 3).padStart(9)}${fmt(sessionS, 3).padStart(20)}${fmt(p.count / sessionS).padStart(10)}${String(bytes).padStart(13)}`,
    );
  }
  const w = retrRate.get('wharf');
  const d = retrRate.get('dovecot');
  if (w !== undefined && d !== undefined && d > 0) {
    lines.push(`ratio wharf/dovecot = ${(w / d).toFixed(2)}`);
    lines.push(`(with login and QUIT: ${(sessionRate.get('wharf')! / sessionRate.get('dovecot')!).toFixed(2)}; both check a memory-hard hash: Wharf scrypt N=2^15 r=8, Dovecot ARGON2ID m=64 MiB t=3)`);
  }
  process.stdout.write(lines.join('\n') + '\n');
}
