/**
 * IMAP benchmark: Wharf against Dovecot on the same machine, driven by the same load generator
 * (bench/imap/load). Both servers get the same INBOX (bench/lib/mailbox-corpus): Dovecot as
 * Maildir files, Wharf through its SMTP service. Scenarios:
 *
 *   mixed   20 clients loop over a weighted mix of IMAP commands; ops/s, p50/p99 per kind,
 *           IDLE wake-up latency                                  (2,000-message INBOX)
 *   memory  1,000 sessions LOGIN, SELECT INBOX and IDLE; the server's whole memory
 *   big     SELECT, UID FETCH 1:* (FLAGS), SEARCH TEXT on a 100,000-message INBOX
 *
 *   node dist/bench/imap/run.js [--scenarios mixed,memory] [--big] [--duration 20] [--warmup 3]
 *        [--clients 20] [--messages 2000] [--sessions 1000] [--big-messages 100000]
 *        [--rounds 5] [--only wharf|dovecot] [--dovecot-conf "name = value" ...] [--keep]
 *
 * Options also come from the environment (see bench/README.md); BENCH_WORKDIR moves the work
 * directory (default bench/.work).
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { ensurePackages, freePort, intOption, libDir, log, LOOPBACK, makeWorkDir, removeDir, requireRoot, runMain, runSide, settle } from '../lib/common.js';
import { runGenerator } from '../lib/load-runner.js';
import { startDovecot } from '../lib/dovecot.js';
import { startWharf } from '../lib/wharf.js';
import { openFilesLimit } from '../lib/proc-memory.js';
import type { BigSummary } from './big-mailbox.js';
import type { SessionsSummary } from './idle-sessions.js';
import type { MixedSummary } from './mixed-load.js';
import { populateDovecot, populateWharf, prepareMailbox } from './populate.js';
import { printReport, type Results } from './report.js';

const DOMAIN = 'bench.test';
const USER = { address: `imap@${DOMAIN}`, local: 'imap', password: 'bench-imap-pass' };
const SCENARIOS = ['mixed', 'memory', 'big'] as const;
type Scenario = (typeof SCENARIOS)[number];

/** A server under test, started with an IMAP port, its mailbox not yet filled. */
interface Target {
  port: number;
  pid: number;
  populate(count: number): Promise<void>;
  stop(): Promise<void>;
}

runMain(async () => {
  const { values } = parseArgs({
    options: {
      scenarios: { type: 'string' },
      big: { type: 'boolean', default: false },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      clients: { type: 'string' },
      messages: { type: 'string' },
      sessions: { type: 'string' },
      'big-messages': { type: 'string' },
      rounds: { type: 'string' },
      only: { type: 'string' },
      'dovecot-conf': { type: 'string', multiple: true },
      keep: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const scenarioList = (values.big ? 'big' : (values.scenarios ?? process.env.BENCH_IMAP_SCENARIOS ?? 'mixed,memory')).split(',').map((s) => s.trim());
  for (const s of scenarioList) if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`--scenarios takes ${SCENARIOS.join(',')}, not ${s}`);
  const scenarios = new Set(scenarioList as Scenario[]);
  const p = {
    durationS: intOption(values.duration, 'BENCH_DURATION', 20, 1, 3600),
    warmupS: intOption(values.warmup, 'BENCH_WARMUP', 3, 0, 600),
    clients: intOption(values.clients, 'BENCH_IMAP_CLIENTS', 20, 1, 1000),
    messages: intOption(values.messages, 'BENCH_IMAP_MESSAGES', 2000, 100, 1_000_000),
    sessions: intOption(values.sessions, 'BENCH_IMAP_SESSIONS', 1000, 1, 50_000),
    bigMessages: intOption(values['big-messages'], 'BENCH_IMAP_BIG_MESSAGES', 100_000, 100, 1_000_000),
    rounds: intOption(values.rounds, 'BENCH_ROUNDS', 5, 1, 100),
  };
  const dovecotConf = values['dovecot-conf'] ?? [];
  for (const line of dovecotConf) if (!/^[a-z_]+ *= *[^\n]*$/.test(line)) throw new Error(`--dovecot-conf takes "name = value", not ${line}`);
  const only = values.only;
  if (only !== undefined && only !== 'wharf' && only !== 'dovecot') throw new Error('--only takes wharf or dovecot');
  if (only !== 'wharf') {
    requireRoot('the Dovecot side of this benchmark');
    await ensurePackages('dovecot-imapd');
  }
  if (scenarios.has('memory')) {
    const limit = await openFilesLimit();
    if (limit < p.sessions + 200) throw new Error(`open-files limit ${limit} is too low for ${p.sessions} sessions: raise it (ulimit -n), or run bench/imap/run.sh, which does`);
  }

  const work = await makeWorkDir('imap');
  log(`work directory ${work}`);
  const results: Results = { mixed: [], memory: [], big: [] };
  const failures: string[] = [];
  const maxConnections = Math.max(p.clients + 10, scenarios.has('memory') ? p.sessions + 10 : 0);

  const startTarget = async (name: string, sub: string): Promise<Target> => {
    const dir = join(work, name, sub);
    await mkdir(dir, { recursive: true });
    if (name === 'wharf') {
      // Every bench session comes from 127.0.0.1: lift the per-address, per-service and total
      // caps (50, 1,000 and 5,000 by default) and the connection rate per address (600 a
      // minute) above the session count, as Dovecot's are.
      const wharf = await startWharf({
        dir,
        domain: DOMAIN,
        users: [{ address: USER.address, password: USER.password }],
        imap: true,
        config: {
          limits: {
            maxConnectionsPerAddress: maxConnections,
            maxConnections,
            maxConnectionsTotal: maxConnections,
            maxConnectionRatePerAddress: maxConnections * 2,
          },
          // Every bench session is one user from one address.
          imap: { maxConnectionsPerUserAddress: maxConnections },
        },
      });
      return { port: wharf.imapPort, pid: wharf.pid, populate: (n) => populateWharf(wharf, USER.address, n), stop: () => wharf.stop() };
    }
    const dovecot = await startDovecot({
      dir,
      imapPort: await freePort(),
      users: [{ name: USER.local, password: USER.password }],
      maxConnections,
      // Dovecot checks passwords in one auth process: with ARGON2ID (m=64 MiB, t=3, about
      // 0.2 s each) opening 1,000 sessions would take minutes. No timed figure here includes a
      // login, so the cheaper of the two schemes a like-with-like setup allows is used.
      passwordScheme: 'SHA512-CRYPT',
      extraConfig: dovecotConf,
    });
    return { port: dovecot.imapPort, pid: dovecot.pid, populate: (n) => populateDovecot(dovecot, USER.local, USER.address, n), stop: () => dovecot.stop() };
  };

  const generator = <T>(name: string, target: Target, args: string[], limitMs: number) =>
    runGenerator<T>(
      [join(libDir(), '..', 'imap', 'load.js'), '--host', LOOPBACK, '--port', String(target.port), '--user', USER.address, '--pass', USER.password, '--label', name, ...args],
      name,
      limitMs,
    );

  const side = async (name: 'wharf' | 'dovecot') => {
    if (scenarios.has('mixed') || scenarios.has('memory')) {
      await runSide(failures, `${name} (${p.messages}-message INBOX)`, async () => {
        const target = await startTarget(name, 'mixed');
        await target.populate(p.messages);
        await prepareMailbox(name, target.port, USER.address, USER.password, p.messages);
        if (scenarios.has('mixed')) {
          await settle();
          const args = ['--scenario', 'mixed', '--messages', String(p.messages), '--clients', String(p.clients), '--duration', String(p.durationS), '--warmup', String(p.warmupS)];
          results.mixed.push({ name, summary: await generator<MixedSummary>(name, target, args, (p.durationS + p.warmupS) * 1000 + 600_000) });
        }
        if (scenarios.has('memory')) {
          await settle();
          const args = ['--scenario', 'sessions', '--sessions', String(p.sessions), '--server-pid', String(target.pid)];
          results.memory.push({ name, summary: await generator<SessionsSummary>(name, target, args, 3_600_000) });
        }
        await target.stop();
      });
    }
    if (scenarios.has('big')) {
      await runSide(failures, `${name} (${p.bigMessages}-message INBOX)`, async () => {
        const target = await startTarget(name, 'big');
        await target.populate(p.bigMessages);
        await prepareMailbox(name, target.port, USER.address, USER.password, p.bigMessages);
        await settle();
        const args = ['--scenario', 'big', '--messages', String(p.bigMessages), '--rounds', String(p.rounds), '--timeout', '600'];
        results.big.push({ name, summary: await generator<BigSummary>(name, target, args, 7_200_000) });
        await target.stop();
      });
    }
  };

  if (only !== 'dovecot') await side('wharf');
  if (only !== 'wharf') await side('dovecot');

  printReport(results, p);
  for (const f of failures) process.stdout.write(`FAILED ${f}\n`);
  const failed = failures.length > 0 || results.mixed.some((r) => r.summary.ops === 0);
  if (values.keep || failed) log(`kept work directory ${work}`);
  else await removeDir(work);
  if (failed) process.exitCode = 1;
});
