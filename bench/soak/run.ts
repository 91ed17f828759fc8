/**
 * Soak: many concurrent sessions held for minutes while mail flows in; does the server level
 * off, or does something grow?
 *
 *   npm run bench:soak -- [--connections 10000] [--minutes 10] [--rate 20]
 *
 * One `wharf serve` child (temporary data folder, free loopback ports, raised open-files
 * limit) is given N sessions, spread over IMAP (LOGIN, SELECT, IDLE), POP3 (logged in), SMTP
 * (after EHLO) and FTP (logged in), one in fifty POP3 and the rest equally, from many loopback source addresses
 * (127.1.x.y: Linux routes all of 127/8 to lo) so that the default per-address limits hold as
 * they would for real clients; only the global caps are raised in the soak's config. Then,
 * for M minutes, mail arrives over SMTP at R messages/s for the IDLE-ing mailboxes, the SMTP,
 * POP3 and FTP sessions send a NOOP every one to two minutes, and every 30 s the server's own
 * GET /metrics (RSS, descriptors, event-loop p99) is printed. Exit 1 when the verdict
 * (verdict.ts) fails or sessions were lost.
 */
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { intOption, isInterrupted, log, makeWorkDir, removeDir, runMain, sleep } from '../lib/common.js';
import { makeMessage } from '../lib/message.js';
import { openFilesLimit } from '../lib/proc-memory.js';
import { openSession, type SmtpConnection } from '../lib/smtp-client.js';
import { createUsers, PASSWORD, startSoakServer, userAddress, type SoakServer } from './server.js';
import { countReason, holdSession, newStats, type HeldSession, type Service, type SessionStats } from './sessions.js';
import { judge, LIMITS, mb, type Sample } from './verdict.js';

const DOMAIN = 'soak.test';
/** The services of the sessions in turn; POP3 is every POP3_EVERY-th session. */
const ROTATION: Service[] = ['imap', 'smtp', 'ftp'];
const POP3_EVERY = 50;
/** Connections per client address: under the default per-address cap (50) even counted over all services. */
const PER_ADDRESS = 40;
const OPEN_CONCURRENCY = 64;
const STEP_TIMEOUT_MS = 120_000;
const SENDER_SESSIONS = 4;
/** Spare descriptors beyond one per connection (store, logs, listeners, HTTP). */
const FD_HEADROOM = 2_000;

/** Client address number i: 127.1.x.y, never 127.0.0.1 (where the mail and the metrics come from). */
function clientAddress(i: number): string {
  return `127.1.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;
}

/** This process needs a descriptor per session too: re-run under a raised limit when it is low. */
async function ensureOwnFileLimit(need: number): Promise<boolean> {
  const have = await openFilesLimit();
  if (have >= need) return false;
  if (process.env.BENCH_SOAK_LIMIT_RAISED) throw new Error(`the open-files limit is ${have}; this soak needs ${need} (raise the hard limit: ulimit -Hn, or run as root)`);
  log(`open-files limit ${have} < ${need}: running again under ulimit -n ${need}`);
  const script = `{ ulimit -n ${need} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; } && exec "$0" "$@"`;
  const child = spawn('sh', ['-c', script, process.execPath, ...process.execArgv, process.argv[1]!, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_SOAK_LIMIT_RAISED: '1' },
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
  process.exitCode = await new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
  return true;
}

interface Metrics {
  rssBytes: number;
  heapUsedBytes: number;
  openFds: number | null;
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
  sessions: Record<string, number>;
}

async function readMetrics(server: SoakServer): Promise<Metrics> {
  const res = await fetch(`http://127.0.0.1:${server.ports.http}/metrics`, { signal: AbortSignal.timeout(20_000) });
  if (res.status !== 200) throw new Error(`GET /metrics: ${res.status}`);
  const m = (await res.json()) as Metrics;
  // Where the server cannot count its own descriptors, count them from outside.
  m.openFds ??= (await readdir(`/proc/${server.pid}/fd`)).length;
  return m;
}

async function procRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
}

/** Mail arriving at a steady rate, for the mailboxes the IMAP sessions watch. */
class MailFlow {
  sent = 0;
  failed = 0;
  /** EXISTS the IDLE sessions should see for what was sent. */
  expectedExists = 0;
  private stopped = false;
  private done: Promise<void>[] = [];

  constructor(
    private readonly port: number,
    private readonly rate: number,
    private readonly recipients: number,
    private readonly watchersOf: (user: number) => number,
    private readonly stats: SessionStats,
  ) {}

  start(): void {
    const t0 = performance.now();
    let next = 0;
    // Each sender takes the next message number when its time has come (open loop: a slow
    // server makes the senders late, and the lateness shows as fewer messages sent).
    const claim = async (): Promise<number | null> => {
      for (;;) {
        if (this.stopped) return null;
        const due = t0 + (next * 1000) / this.rate;
        const wait = due - performance.now();
        if (wait <= 0) return next++;
        await sleep(Math.min(wait, 500));
      }
    };
    for (let w = 0; w < SENDER_SESSIONS; w++) {
      this.done.push(
        (async () => {
          let conn: SmtpConnection | null = null;
          for (let seq = await claim(); seq !== null; seq = await claim()) {
            const user = seq % this.recipients;
            const to = userAddress(user, DOMAIN);
            try {
              conn ??= await openSession('127.0.0.1', this.port, 'sender.soak.example');
              await conn.send('soak@sender.example', to, makeMessage({ from: 'soak@sender.example', to, size: 2048, runId: 'soak', seq }));
              this.sent++;
              this.expectedExists += this.watchersOf(user);
            } catch (err) {
              this.failed++;
              countReason(this.stats, `mail: ${(err as Error).message}`);
              conn?.destroy();
              conn = null;
              await sleep(1000);
            }
          }
          await conn?.quit().catch(() => conn?.destroy());
        })(),
      );
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.done);
  }
}

runMain(async () => {
  const { values } = parseArgs({
    options: {
      connections: { type: 'string' },
      minutes: { type: 'string' },
      rate: { type: 'string' },
      'sample-seconds': { type: 'string' },
      'warmup-seconds': { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const connections = intOption(values.connections, 'BENCH_SOAK_CONNECTIONS', 10_000, 10, 60_000);
  const minutes = intOption(values.minutes, 'BENCH_SOAK_MINUTES', 10, 0.5, 24 * 60);
  const rate = intOption(values.rate, 'BENCH_SOAK_RATE', 20, 0, 1000);
  const sampleSeconds = intOption(values['sample-seconds'], 'BENCH_SOAK_SAMPLE_SECONDS', 30, 1, 600);
  const warmupSeconds = intOption(values['warmup-seconds'], 'BENCH_SOAK_WARMUP_SECONDS', 60, 0, 3600);
  const openFiles = connections + FD_HEADROOM;
  if (await ensureOwnFileLimit(openFiles)) return;

  // The sessions, in the order they are opened: service, client address, user. POP3 locks its
  // maildrop, so each POP3 session has a user of its own (one in fifty sessions: POP3 is the
  // rare one today); IMAP, SMTP and FTP share the rest equally. Users: one per fifty sessions.
  const users = Math.max(20, Math.ceil(connections / POP3_EVERY));
  const counts: Record<Service, number> = { imap: 0, pop3: 0, smtp: 0, ftp: 0 };
  let rotation = 0;
  const plan = Array.from({ length: connections }, (_, i) => {
    const service: Service = i % POP3_EVERY === POP3_EVERY - 1 && counts.pop3 < users ? 'pop3' : ROTATION[rotation++ % ROTATION.length]!;
    return { service, index: counts[service]++, address: clientAddress(i % Math.ceil(connections / PER_ADDRESS)) };
  });
  const perUser = (service: Service) => Math.max(1, Math.ceil(counts[service] / users));
  const userOf = (p: { service: Service; index: number }) => Math.floor(p.index / perUser(p.service)) % users;
  const imapWatchers = new Array<number>(users).fill(0);
  for (const p of plan) if (p.service === 'imap') imapWatchers[userOf(p)]!++;
  const addresses = Math.ceil(connections / PER_ADDRESS);
  log(`plan: ${connections} sessions (${Object.entries(counts).map(([s, n]) => `${s} ${n}`).join(', ')}) from ${addresses} addresses, ${users} users, ${rate} msgs/s for ${minutes} min`);

  const work = await makeWorkDir('soak');
  const dataDir = join(work, 'data');
  await mkdir(dataDir);
  log(`work directory ${work}`);
  await createUsers(dataDir, DOMAIN, users);
  const perService = Math.max(...Object.values(counts)) + 500;
  const server = await startSoakServer({
    dir: work,
    dataDir,
    openFiles: openFiles + 1000,
    config: {
      // Global caps sized for the soak; the per-address cap and rate stay at their defaults.
      limits: { maxConnections: perService, maxConnectionsTotal: connections + 1000 },
    },
  });

  const stats = newStats();
  const sessions: HeldSession[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let failedOpens = 0;
  const print = (label: string, m: Metrics, rss: number) => {
    const open = Object.entries(stats.open).map(([s, n]) => `${s} ${n}`).join(' ');
    const lost = Object.values(stats.lost).reduce((a, b) => a + b, 0);
    const server = Object.keys(m.sessions).length > 0 ? ` server-sessions ${JSON.stringify(m.sessions)}` : '';
    console.log(
      `${label.padEnd(14)} rss ${mb(m.rssBytes)} (proc ${mb(rss)}) heap ${mb(m.heapUsedBytes)}  fds ${m.openFds}  loop p99 ${m.eventLoopDelayP99Ms.toFixed(1)} ms max ${m.eventLoopDelayMaxMs.toFixed(1)} ms` +
        `  | open ${open} lost ${lost} failed-opens ${failedOpens}  mail ${flow?.sent ?? 0} sent, EXISTS ${stats.existsSeen}  slowest NOOP ${stats.slowestNoopMs.toFixed(0)} ms${server}`,
    );
    stats.slowestNoopMs = 0;
  };
  let flow: MailFlow | null = null;

  const before = await readMetrics(server);
  print('before', before, await procRss(server.pid));

  // Every user logs in once first (IMAP LOGIN, LOGOUT), a few at a time: that is the login's
  // real scrypt verification. The sessions opened after it log in within the server's
  // verified-login cache (5 minutes), as a user's second and third device would; without this,
  // a user's sessions opening at the same moment would each run scrypt (0.1 s of a core each).
  const tWarm = performance.now();
  let nextUser = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (nextUser < users && !isInterrupted()) {
        const u = nextUser++;
        try {
          const s = await holdSession({ service: 'imap', host: '127.0.0.1', port: server.ports.imap, localAddress: clientAddress(u % 250), user: userAddress(u, DOMAIN), pass: PASSWORD }, stats, STEP_TIMEOUT_MS);
          s.close();
        } catch (err) {
          countReason(stats, `first login: ${(err as Error).message}`);
        }
      }
    }),
  );
  log(`${users} users logged in once in ${((performance.now() - tWarm) / 1000).toFixed(0)} s`);

  // Opening: a bounded number at a time, as clients arriving over a minute or two would.
  const tOpen = performance.now();
  let nextPlan = 0;
  let lastProgress = tOpen;
  const opener = async () => {
    while (nextPlan < plan.length && !isInterrupted()) {
      const p = plan[nextPlan++]!;
      const port = server.ports[p.service];
      const user = userOf(p);
      try {
        const s = await holdSession({ service: p.service, host: '127.0.0.1', port, localAddress: p.address, user: userAddress(user, DOMAIN), pass: PASSWORD }, stats, STEP_TIMEOUT_MS);
        sessions.push(s);
        if (s.service !== 'imap') {
          // A NOOP every one to two minutes: well inside every idle timeout (SMTP's 5 minutes is the shortest).
          const again = () => {
            const t = setTimeout(() => {
              timers.delete(t);
              s.noop(STEP_TIMEOUT_MS).then(again, (err: unknown) => countReason(stats, `${s.service} NOOP: ${(err as Error).message}`));
            }, 60_000 + Math.random() * 60_000);
            timers.add(t);
          };
          again();
        }
      } catch (err) {
        failedOpens++;
        countReason(stats, `${p.service} open: ${(err as Error).message}`);
      }
      if (performance.now() - lastProgress > 10_000) {
        lastProgress = performance.now();
        log(`opened ${sessions.length} of ${plan.length} (${failedOpens} failed) in ${((lastProgress - tOpen) / 1000).toFixed(0)} s`);
      }
    }
  };
  await Promise.all(Array.from({ length: OPEN_CONCURRENCY }, opener));
  const openSeconds = (performance.now() - tOpen) / 1000;
  log(`opened ${sessions.length} sessions in ${openSeconds.toFixed(0)} s; ${failedOpens} failed`);
  for (const [why, n] of stats.reasons) log(`  ${n} × ${why}`);
  print('all open', await readMetrics(server), await procRss(server.pid));

  // The hold: mail flows, samples every sampleSeconds.
  flow = new MailFlow(server.ports.smtp, rate, users, (u) => imapWatchers[u]!, stats);
  if (rate > 0) flow.start();
  const samples: Sample[] = [];
  const tHold = performance.now();
  await readMetrics(server); // starts a fresh event-loop window
  for (let k = 1; k <= Math.round((minutes * 60) / sampleSeconds) && !isInterrupted(); k++) {
    await sleep(tHold + k * sampleSeconds * 1000 - performance.now());
    if (server.exited() !== null) throw new Error(`wharf serve exited (${server.exited()}) during the soak; see ${server.logFile}`);
    const m = await readMetrics(server);
    const atSeconds = k * sampleSeconds;
    samples.push({ atSeconds, rssBytes: m.rssBytes, openFds: m.openFds!, eventLoopDelayP99Ms: m.eventLoopDelayP99Ms });
    print(`min ${(atSeconds / 60).toFixed(1)}`, m, await procRss(server.pid));
  }
  await flow.stop();
  await sleep(3000); // the last notifications on their way
  const lost = Object.values(stats.lost).reduce((a, b) => a + b, 0);
  const existsSeen = stats.existsSeen;

  // Afterwards: every session closed, do descriptors go back down?
  for (const t of timers) clearTimeout(t);
  for (const s of sessions) s.close();
  await sleep(10_000);
  const after = await readMetrics(server);
  print('all closed', after, await procRss(server.pid));
  const serverAlive = server.exited() === null;
  await server.stop();

  console.log('');
  console.log(`sessions: ${sessions.length} held of ${connections} (${failedOpens} failed to open) in ${openSeconds.toFixed(0)} s; ${lost} lost during the hold`);
  console.log(`mail: ${flow.sent} accepted (${flow.failed} failed) at ${rate}/s wanted; IDLE sessions saw ${existsSeen} EXISTS of ${flow.expectedExists} expected`);
  console.log(`descriptors: ${before.openFds} before, ${after.openFds} after every session closed`);
  for (const [why, n] of stats.reasons) console.log(`  ${n} × ${why}`);
  const failures = judge(samples, warmupSeconds);
  if (!serverAlive) failures.push('the server exited');
  if (failedOpens > 0) failures.push(`${failedOpens} sessions could not be opened`);
  if (lost > 0) failures.push(`${lost} sessions were lost during the hold`);
  if (after.openFds! > before.openFds! + LIMITS.fdGrowthMin) failures.push(`descriptors did not come back: ${before.openFds} before, ${after.openFds} after`);
  console.log(failures.length === 0 ? 'PASS' : `FAIL:\n  ${failures.join('\n  ')}`);
  if (failures.length > 0) process.exitCode = 1;
  if (!values.keep && failures.length === 0) await removeDir(work);
  else log(`kept ${work}`);
});
