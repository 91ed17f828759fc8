/**
 * The wire fuzzing loop. Rounds of mutated recorded sessions against one live `wharf serve`;
 * after each round a well-behaved session on every service; at the end, the server's RSS and
 * open descriptors against their baseline. A server that dies is restarted (and counted), and
 * the sessions of that round are replayed one at a time to find the one that kills it.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { goodSession, type GoodResult, type GoodService } from './good-clients.js';
import { mutate } from './mutate.js';
import { replay, type ReplayTarget } from './replay.js';
import { Rng } from '../engine/rng.js';
import { WORKER_IDLE_MS } from '../../src/store/sqlite/background.js';
import { FUZZ_ACCOUNT, GOOD_ACCOUNT, prepareData, processFigures, startServer, type ProcessFigures, type ServerUnderFuzz } from './server.js';
import { describeSession, loadSessions, protocolOf, sessionsDir, type WireSession } from './session.js';
import { loadSftpSessions, mutateSftp, replaySftp, type SftpSession } from './sftp.js';

export interface FuzzOptions {
  rounds: number;
  /** Only this protocol's sessions and checks (smtp, pop3, imap, ftp, sftp). */
  protocol?: string;
  seed: number;
  /** Mutated copies of each recorded session per round. */
  perRound: number;
  /** Sessions in flight at once. */
  concurrency: number;
  workDir: string;
  /** Start no further round this long (ms) after the baseline; the first round always runs. */
  budgetMs?: number;
  log: (line: string) => void;
}

export interface Finding {
  kind: 'crash' | 'not-served';
  round: number;
  detail: string;
  /** Where the inputs were written. */
  file: string;
}

export interface FuzzSummary {
  rounds: number;
  sessionsSent: number;
  /** Sessions the server refused or dropped before the first byte (counted, not a failure). */
  refused: number;
  /** Mutated sessions that went on inside TLS after STARTTLS/STLS/AUTH TLS. */
  tlsUpgrades: number;
  /** FTP data connections the mutated sessions opened. */
  dataConnections: number;
  restarts: number;
  goodChecks: number;
  goodFailures: GoodResult[];
  slowestGood: GoodResult | null;
  baseline: ProcessFigures;
  end: ProcessFigures;
  findings: Finding[];
  /** Error-level records the server logged (over every start), by event and error text. */
  serverErrors: Map<string, number>;
  seed: number;
}

const GOOD_SERVICES: GoodService[] = ['smtp', 'submission', 'submissions', 'pop3', 'pop3s', 'imap', 'imaps', 'ftp', 'ftps', 'sftp'];
/** The well-behaved client's address; the fuzzer's connections come from 127.3.x.y. */
const GOOD_ADDRESS = '127.0.0.3';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function fuzzAddress(n: number): string {
  return `127.3.${1 + (Math.floor(n / 250) % 250)}.${1 + (n % 250)}`;
}

async function runPool<T>(items: T[], concurrency: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}

/** Waits until the descriptor count is back within `slack` of `baseline` (or `maxMs` passes). */
async function settleFigures(pid: number, baseline: ProcessFigures, slack: number, maxMs: number): Promise<ProcessFigures> {
  const until = Date.now() + maxMs;
  let now = await processFigures(pid);
  while (now.openFds > baseline.openFds + slack && Date.now() < until) {
    await sleep(250);
    now = await processFigures(pid);
  }
  return now;
}

/** Descriptors over the baseline still accepted at the end (a database file, a log reopened). */
export const FD_SLACK = 4;
/**
 * Memory over the baseline still accepted at the end: V8 keeps some of a grown heap and the
 * allocator some freed pages, so RSS settles above where it started; a leak keeps climbing.
 */
export const RSS_SLACK_BYTES = 150 * 1024 * 1024;

export async function fuzzWire(opts: FuzzOptions): Promise<FuzzSummary> {
  const rng = new Rng(opts.seed);
  const dataDir = join(opts.workDir, 'data');
  await mkdir(dataDir, { recursive: true });
  await prepareData(dataDir);
  const here = dirname(fileURLToPath(import.meta.url));
  const dir = sessionsDir(here);
  const recorded = loadSessions(dir, FUZZ_ACCOUNT).filter((s) => !opts.protocol || protocolOf(s.service) === opts.protocol);
  const recordedSftp = !opts.protocol || opts.protocol === 'sftp' ? loadSftpSessions(dir) : [];
  const goodServices = GOOD_SERVICES.filter((s) => !opts.protocol || (s === 'sftp' ? 'sftp' : protocolOf(s)) === opts.protocol);
  if (recorded.length === 0 && goodServices.length === 0) throw new Error(`no sessions for protocol ${opts.protocol}`);

  let server: ServerUnderFuzz = await startServer(dataDir, opts.workDir);
  const summary: FuzzSummary = {
    rounds: 0,
    sessionsSent: 0,
    refused: 0,
    tlsUpgrades: 0,
    dataConnections: 0,
    restarts: 0,
    goodChecks: 0,
    goodFailures: [],
    slowestGood: null,
    baseline: { rssBytes: 0, openFds: 0 },
    end: { rssBytes: 0, openFds: 0 },
    findings: [],
    serverErrors: new Map(),
    seed: opts.seed,
  };
  const collectErrors = (from: ServerUnderFuzz) => {
    for (const e of from.errors()) {
      const error = typeof e.error === 'string' ? e.error : JSON.stringify(e.error ?? '');
      const what = e.command ?? e.request;
      const key = `${String(e.service ?? '')} ${String(e.event ?? '')}${what ? ` (${String(what)})` : ''}: ${error}`.slice(0, 240);
      summary.serverErrors.set(key, (summary.serverErrors.get(key) ?? 0) + 1);
    }
  };
  let connectionNo = 0;
  const target = (): ReplayTarget => ({ host: '127.0.0.1', ports: server.ports, localAddress: fuzzAddress(connectionNo++) });

  const restartIfDead = async (): Promise<boolean> => {
    const code = server.exitCode();
    if (code === null) return false;
    opts.log(`server exited (${code}); its last output:\n${server.tail()}`);
    summary.restarts++;
    collectErrors(server);
    server = await startServer(dataDir, opts.workDir);
    return true;
  };

  const checkGood = async (round: number): Promise<void> => {
    for (const service of goodServices) {
      const r = await goodSession(service, server.ports, GOOD_ACCOUNT, GOOD_ADDRESS);
      summary.goodChecks++;
      if (!summary.slowestGood || r.ms > summary.slowestGood.ms) summary.slowestGood = r;
      if (!r.ok) {
        summary.goodFailures.push(r);
        opts.log(`round ${round}: the well-behaved ${service} client was not served: ${r.error}`);
      }
    }
  };

  try {
    // Warm-up: every recording as it is, and the well-behaved client, before the baseline.
    await Promise.all([
      runPool(recorded, opts.concurrency, (s) => replay(s, target()).then(() => {}, () => {})),
      runPool(recordedSftp, 1, (s) => replaySftp(s, server.ports.sftp!, fuzzAddress(connectionNo++), FUZZ_ACCOUNT).then(() => {}, () => {})),
    ]);
    await checkGood(0);
    await sleep(1000);
    summary.baseline = await processFigures(server.pid);
    opts.log(`baseline: rss ${(summary.baseline.rssBytes / 1048576).toFixed(1)} MB, ${summary.baseline.openFds} fds; ${recorded.length + recordedSftp.length} recorded sessions, seed ${opts.seed}`);

    const t0 = Date.now();
    for (let round = 1; round <= opts.rounds; round++) {
      if (round > 1 && opts.budgetMs !== undefined && Date.now() - t0 > opts.budgetMs) break;
      const batch: WireSession[] = [];
      for (const s of recorded) for (let k = 0; k < opts.perRound; k++) batch.push(mutate(s, rng));
      await runPool(batch, opts.concurrency, async (s) => {
        if (server.exitCode() !== null) return;
        try {
          const r = await replay(s, target());
          summary.tlsUpgrades += r.tlsUpgrades;
          summary.dataConnections += r.dataConnections;
        } catch {
          summary.refused++;
        }
        summary.sessionsSent++;
      });
      const sftpBatch: SftpSession[] = [];
      for (const s of recordedSftp) for (let k = 0; k < opts.perRound; k++) sftpBatch.push(mutateSftp(s, rng));
      await runPool(sftpBatch, Math.min(2, opts.concurrency), async (s) => {
        if (server.exitCode() !== null) return;
        try {
          await replaySftp(s, server.ports.sftp!, fuzzAddress(connectionNo++), FUZZ_ACCOUNT);
        } catch {
          summary.refused++;
        }
        summary.sessionsSent++;
      });
      summary.rounds = round;
      if (server.exitCode() !== null && sftpBatch.length > 0) {
        const file = join(opts.workDir, `crash-round-${round}-sftp.json`);
        await writeFile(file, JSON.stringify({ seed: opts.seed, round, sftp: sftpBatch.map((s) => ({ name: s.name, mutations: s.mutations, packets: s.packets, raw: [...s.raw].map(([i, b]) => [i, b.toString('base64')]), split: [...s.split] })) }, null, 1));
        summary.findings.push({ kind: 'crash', round, detail: 'during or after the SFTP batch (line sessions are replayed one at a time next)', file });
      }
      if (await restartIfDead()) {
        // Which one was it? One at a time, until the server dies again.
        let culprit: WireSession | null = null;
        for (const s of batch) {
          await replay(s, target()).catch(() => {});
          await sleep(200);
          if (server.exitCode() !== null) {
            culprit = s;
            await restartIfDead();
            break;
          }
        }
        const file = join(opts.workDir, `crash-round-${round}.json`);
        await writeFile(file, JSON.stringify({ seed: opts.seed, round, culprit: culprit && describeSession(culprit), batch: culprit ? undefined : batch.map(describeSession) }, null, 1));
        summary.findings.push({ kind: 'crash', round, detail: culprit ? `${culprit.name}: ${culprit.mutations.join('; ')}` : 'not reproduced one at a time', file });
      }
      const failuresBefore = summary.goodFailures.length;
      await checkGood(round);
      if (summary.goodFailures.length > failuresBefore) {
        const file = join(opts.workDir, `not-served-round-${round}.json`);
        await writeFile(file, JSON.stringify({ seed: opts.seed, round, failures: summary.goodFailures.slice(failuresBefore), batch: batch.map(describeSession) }, null, 1));
        summary.findings.push({ kind: 'not-served', round, detail: summary.goodFailures.slice(failuresBefore).map((f) => `${f.service}: ${f.error}`).join('; '), file });
      }
      opts.log(`round ${round}: ${batch.length + sftpBatch.length} mutated sessions, ${summary.sessionsSent} in all, restarts ${summary.restarts}`);
    }
    // Every fuzz connection is closed on this side; the server's must follow. Mail stored by
    // the fuzz starts the store's background worker (its own database connection and event
    // loop: six descriptors), which stops after WORKER_IDLE_MS without work, so the wait
    // outlasts that.
    summary.end = await settleFigures(server.pid, summary.baseline, FD_SLACK, WORKER_IDLE_MS + 10_000);
  } finally {
    await server.stop();
    collectErrors(server);
  }
  return summary;
}
