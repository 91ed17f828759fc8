/**
 * SMTP inbound benchmark: Wharf against Postfix on the same machine, driven by the same load
 * generator (bench/lib/smtp-load): N concurrent sessions sending ~10 KB messages to local users
 * for a fixed time. Prints messages/s for both and the ratio wharf/postfix.
 *
 *   node dist/bench/smtp-inbound/run.js [--duration 20] [--warmup 2] [--sessions 20]
 *        [--size 10240] [--users 5] [--only wharf|postfix] [--postfix-param name=value ...] [--keep]
 *
 * Options also come from the environment: BENCH_DURATION, BENCH_WARMUP, BENCH_SESSIONS,
 * BENCH_MSG_SIZE, BENCH_USERS; BENCH_WORKDIR moves the work directory (default bench/.work).
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { ensurePackages, fmt, freePort, intOption, log, makeWorkDir, removeDir, requireRoot, runMain, runSide, settle, waitFor } from '../lib/common.js';
import { runLoad, type LoadSummary } from '../lib/load-runner.js';
import { startPostfix } from '../lib/postfix.js';
import { countMailboxMessages, startWharf } from '../lib/wharf.js';

const DOMAIN = 'bench.test';
const SENDER = 'reports@sender.example';

interface Result {
  name: string;
  load: LoadSummary;
  /** Messages found in the mailboxes afterwards, or a reason why they could not be counted. */
  delivered: number | string;
}

runMain(async () => {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      sessions: { type: 'string' },
      size: { type: 'string' },
      users: { type: 'string' },
      only: { type: 'string' },
      'postfix-param': { type: 'string', multiple: true },
      keep: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const durationS = intOption(values.duration, 'BENCH_DURATION', 20, 1, 3600);
  const warmupS = intOption(values.warmup, 'BENCH_WARMUP', 2, 0, 600);
  const sessions = intOption(values.sessions, 'BENCH_SESSIONS', 20, 1, 500);
  const size = intOption(values.size, 'BENCH_MSG_SIZE', 10_240, 200, 10_000_000);
  const userCount = intOption(values.users, 'BENCH_USERS', 5, 1, 1000);
  const postfixParams = values['postfix-param'] ?? [];
  for (const p of postfixParams) if (!/^[a-z_]+ *= *[^\n]*$/.test(p)) throw new Error(`--postfix-param takes name=value, not ${p}`);
  const only = values.only;
  if (only !== undefined && only !== 'wharf' && only !== 'postfix') throw new Error('--only takes wharf or postfix');
  const doWharf = only !== 'postfix';
  const doPostfix = only !== 'wharf';

  if (doPostfix) {
    requireRoot('the Postfix side of this benchmark');
    await ensurePackages('postfix');
  }

  const users = Array.from({ length: userCount }, (_, i) => ({ address: `user${i + 1}@${DOMAIN}`, password: `bench-pass-${i + 1}` }));
  const rcpts = users.map((u) => u.address);
  const work = await makeWorkDir('smtp-inbound');
  log(`work directory ${work}`);
  const load = { sessions, durationS, warmupS, size, rcpts, from: SENDER };
  const results: Result[] = [];

  const failures: string[] = [];
  const side = (name: string, body: () => Promise<void>) => runSide(failures, name, body);

  if (doWharf) await side('wharf', async () => {
    const dir = join(work, 'wharf');
    await mkdir(dir);
    const wharf = await startWharf({ dir, domain: DOMAIN, users });
    await settle();
    const summary = await runLoad({ ...load, label: 'wharf', port: wharf.smtpPort });
    let delivered: number | string;
    try {
      delivered = await waitFor('Wharf mailboxes to hold every acknowledged message', 60_000, async () => {
        const n = await countMailboxMessages(wharf.pop3Port, users);
        return n >= summary.ackedTotal ? n : undefined;
      }, 1000);
    } catch (err) {
      delivered = await countMailboxMessages(wharf.pop3Port, users).catch((e: unknown) => `not counted (${String(e)})`);
      log(`Wharf: ${String(err)}`);
    }
    await wharf.stop();
    results.push({ name: 'wharf', load: summary, delivered });
  });

  if (doPostfix) await side('postfix', async () => {
    const dir = join(work, 'postfix');
    await mkdir(dir);
    const postfix = await startPostfix({ dir, port: await freePort(), domain: DOMAIN, users: rcpts, extraParams: postfixParams });
    await settle();
    const summary = await runLoad({ ...load, label: 'postfix', port: postfix.port });
    // A 250 from Postfix means "safely queued"; delivery into the Maildirs follows. Wait for it.
    let delivered: number | string;
    const total = async () => [...(await postfix.countDelivered()).values()].reduce((a, b) => a + b, 0);
    try {
      delivered = await waitFor('the Postfix queue to drain', 180_000, async () => {
        const [n, queued] = [await total(), await postfix.countQueued()];
        return n >= summary.ackedTotal && queued === 0 ? n : undefined;
      }, 500);
    } catch (err) {
      delivered = await total();
      log(`Postfix: ${String(err)} (queued: ${await postfix.countQueued()})`);
    }
    await postfix.stop();
    results.push({ name: 'postfix', load: summary, delivered });
  });

  printReport(results, { sessions, size, durationS, warmupS, userCount });
  for (const f of failures) process.stdout.write(`FAILED ${f}\n`);

  const failed = failures.length > 0 || results.some((r) => r.load.acked === 0 || r.load.aborted);
  if (values.keep || failed) log(`kept work directory ${work}`);
  else await removeDir(work);
  if (failed) process.exitCode = 1;
});



function printReport(results: Result[], p: { sessions: number; size: number; durationS: number; warmupS: number; userCount: number }): void {
  const lines: string[] = [];
  lines.push('');
  lines.push(`SMTP inbound: ${p.sessions} concurrent sessions, ${p.size}-byte messages to ${p.userCount} local users, ${p.durationS} s measured after ${p.warmupS} s warm-up`);
  lines.push(`${'server'.padEnd(9)}${'msgs/s'.padStart(10)}${'acked'.padStart(9)}${'errors'.padStart(8)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'sent total'.padStart(12)}${'in mailboxes'.padStart(14)}`);
  for (const r of results) {
    const l = r.load;
    lines.push(
      `${r.name.padEnd(9)}${fmt(l.messagesPerSecond).padStart(10)}${String(l.acked).padStart(9)}${String(l.errors).padStart(8)}${fmt(l.latencyMs.p50).padStart(9)}${fmt(l.latencyMs.p99).padStart(9)}${String(l.ackedTotal).padStart(12)}${String(r.delivered).padStart(14)}`,
    );
    for (const [msg, n] of Object.entries(l.errorSamples)) lines.push(`  ${r.name} error x${n}: ${msg}`);
    if (typeof r.delivered === 'number' && r.delivered !== l.ackedTotal) {
      lines.push(`  ${r.name}: WARNING ${l.ackedTotal} messages acknowledged but ${r.delivered} found in the mailboxes`);
    }
  }
  const w = results.find((r) => r.name === 'wharf');
  const pf = results.find((r) => r.name === 'postfix');
  if (w && pf && pf.load.messagesPerSecond > 0) {
    lines.push(`ratio wharf/postfix = ${(w.load.messagesPerSecond / pf.load.messagesPerSecond).toFixed(2)}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
}
