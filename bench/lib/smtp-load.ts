/**
 * SMTP load generator: N concurrent sessions, each looping MAIL FROM / RCPT TO / DATA over one
 * connection for a fixed time. The same program is used against every server.
 *
 *   node dist/bench/lib/smtp-load.js --port 2525[,2526...] [--host 127.0.0.1] [--sessions 20]
 *        [--duration 20] [--warmup 2] [--size 10240] --rcpt a@x,b@x [--from s@y]
 *        [--auth-user u@x] [--rate N] [--acks FILE] [--run-id HEX]
 *
 * --auth-user logs every session in with AUTH PLAIN (submission), the password taken from
 * SMTP_LOAD_AUTH_PASSWORD (not the command line, which other users of the machine can read).
 * --rate N paces the sessions together to at most N messages/s (message k starts no earlier
 * than k/N s after the start); without it every session sends as fast as it is answered.
 * --acks FILE writes one line per acknowledged message, "SEQ EPOCH_MS" (the wall-clock time of
 * the 250, sub-millisecond), for matching messages with their arrival somewhere else; a
 * message's Message-ID is <RUNID.SEQ@HELO>, RUNID in the summary (random unless --run-id).
 *
 * Only messages whose end of DATA is answered 250 count. Messages acknowledged during the
 * warm-up, or after the measuring window closed, are reported separately (they are still
 * delivered, so they matter when counting mailboxes afterwards). Any other reply or a
 * connection failure is an error: counted, sampled and printed. A failed session reconnects
 * after a short pause, until the window ends.
 *
 * Progress goes to stderr; the last stdout line is a JSON summary.
 */
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { percentile } from './common.js';
import { makeMessage } from './message.js';
import { openSession, SmtpError, type SmtpConnection } from './smtp-client.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    sessions: { type: 'string', default: '20' },
    duration: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '2' },
    size: { type: 'string', default: '10240' },
    rcpt: { type: 'string' },
    from: { type: 'string', default: 'reports@sender.example' },
    helo: { type: 'string', default: 'client.sender.example' },
    label: { type: 'string', default: 'server' },
    timeout: { type: 'string', default: '30' },
    'auth-user': { type: 'string' },
    rate: { type: 'string', default: '0' },
    acks: { type: 'string' },
    'run-id': { type: 'string' },
  },
  strict: true,
});

function num(name: string, v: string | undefined, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) {
    process.stderr.write(`smtp-load: --${name} must be a number in [${min}, ${max}]\n`);
    process.exit(2);
  }
  return n;
}

const host = values.host!;
// Several ports: session i talks to ports[i % n], a round-robin client in front of several nodes.
const ports = (values.port ?? '').split(',').map((p) => num('port', p, 1, 65535));
const port = ports.join(',');
const sessions = num('sessions', values.sessions, 1, 1000);
const durationS = num('duration', values.duration, 1, 3600);
const warmupS = num('warmup', values.warmup, 0, 600);
const size = num('size', values.size, 100, 50_000_000);
const timeoutMs = num('timeout', values.timeout, 1, 600) * 1000;
const rcpts = (values.rcpt ?? '').split(',').map((s) => s.trim()).filter(Boolean);
if (rcpts.length === 0) {
  process.stderr.write('smtp-load: --rcpt a@domain[,b@domain...] is required\n');
  process.exit(2);
}
const from = values.from!;
const helo = values.helo!;
const label = values.label!;
const rate = num('rate', values.rate, 0, 1_000_000);
const acksFile = values.acks;
let auth: { user: string; password: string } | undefined;
if (values['auth-user']) {
  const password = process.env.SMTP_LOAD_AUTH_PASSWORD;
  if (!password) {
    process.stderr.write('smtp-load: --auth-user needs the password in SMTP_LOAD_AUTH_PASSWORD\n');
    process.exit(2);
  }
  auth = { user: values['auth-user'], password };
}

/** Hard caps so nothing can loop without bound. */
const MAX_ERRORS_PER_SESSION = 1000;
const MAX_MESSAGES_PER_SESSION = 10_000_000;
const RECONNECT_PAUSE_MS = 200;

const runId = values['run-id'] ?? randomBytes(4).toString('hex');
if (!/^[0-9a-f]{1,32}$/.test(runId)) {
  process.stderr.write('smtp-load: --run-id takes 1 to 32 lower-case hex digits\n');
  process.exit(2);
}
const t0 = performance.now();
const windowStart = t0 + warmupS * 1000;
const windowEnd = windowStart + durationS * 1000;

let seq = 0;
let ackedInWindow = 0;
let ackedWarmup = 0;
let ackedAfter = 0;
let errorsInWindow = 0;
let errorsTotal = 0;
const errorSamples = new Map<string, number>();
const latencies: number[] = []; // ms, per message in the window (end of DATA reply - MAIL FROM)
const perRcpt = new Map<string, number>();
/** Every acknowledged message: its number and the wall-clock time of its 250 (for --acks). */
const ackSeqs: number[] = [];
const ackTimes: number[] = [];

function recordError(err: unknown): void {
  errorsTotal++;
  if (performance.now() >= windowStart && performance.now() < windowEnd) errorsInWindow++;
  let key = err instanceof SmtpError || err instanceof Error ? err.message : String(err);
  key = key.replace(/\s+/g, ' ').slice(0, 200);
  errorSamples.set(key, (errorSamples.get(key) ?? 0) + 1);
}

async function session(id: number): Promise<void> {
  let conn: SmtpConnection | null = null;
  let errors = 0;
  let sent = 0;
  while (performance.now() < windowEnd && errors < MAX_ERRORS_PER_SESSION && sent < MAX_MESSAGES_PER_SESSION) {
    try {
      if (!conn) conn = await openSession(host, ports[id % ports.length]!, helo, timeoutMs, auth);
      const n = seq++;
      if (rate > 0) {
        const due = t0 + (n * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (performance.now() >= windowEnd) break; // its number is never used: numbers may have gaps
      }
      const to = rcpts[(n + id) % rcpts.length]!;
      const msg = makeMessage({ from, to, size, runId, seq: n, clientHost: helo });
      const started = performance.now();
      await conn.send(from, to, msg);
      const done = performance.now();
      sent++;
      if (acksFile) {
        ackSeqs.push(n);
        ackTimes.push(performance.timeOrigin + done);
      }
      perRcpt.set(to, (perRcpt.get(to) ?? 0) + 1);
      if (done < windowStart) ackedWarmup++;
      else if (done < windowEnd) {
        ackedInWindow++;
        latencies.push(done - started);
      } else ackedAfter++;
    } catch (err) {
      errors++;
      recordError(err);
      if (!(err instanceof SmtpError) || err.reply === undefined || err.reply.code === 421 || err.reply.code === 0) {
        // connection-level failure: start over with a new connection
        conn?.destroy();
        conn = null;
      } else {
        // transaction refused: reset it and go on with the same connection
        try {
          await conn?.expect('RSET', 250, 250);
        } catch {
          conn?.destroy();
          conn = null;
        }
      }
      await new Promise((r) => setTimeout(r, RECONNECT_PAUSE_MS));
    }
  }
  if (conn) await conn.quit();
}

async function main(): Promise<void> {
  process.stderr.write(
    `[smtp-load] ${label}: ${sessions} sessions -> ${host}:${port}${auth ? ' (AUTH PLAIN)' : ''}, ${size} B messages, ` +
      `${rate > 0 ? `at most ${rate} msgs/s, ` : ''}warm-up ${warmupS} s, measuring ${durationS} s\n`,
  );
  const progress = setInterval(() => {
    const t = (performance.now() - t0) / 1000;
    process.stderr.write(`[smtp-load] ${label}: t=${t.toFixed(0)}s acked=${ackedWarmup + ackedInWindow + ackedAfter} errors=${errorsTotal}\n`);
  }, 5000);
  const hardStop = setTimeout(() => {
    process.stderr.write(`[smtp-load] ${label}: sessions did not finish in time; giving up\n`);
    report(true);
    process.exit(1);
  }, (warmupS + durationS) * 1000 + timeoutMs * 4 + 10_000);
  await Promise.all(Array.from({ length: sessions }, (_, i) => session(i)));
  clearInterval(progress);
  clearTimeout(hardStop);
  report(false);
}

function report(aborted: boolean): void {
  const measured = Math.min(performance.now(), windowEnd) - windowStart;
  const sorted = latencies.sort((a, b) => a - b);
  const summary = {
    label,
    runId,
    host,
    port,
    sessions,
    messageBytes: size,
    warmupSeconds: warmupS,
    windowSeconds: measured / 1000,
    windowStartEpochMs: performance.timeOrigin + windowStart,
    windowEndEpochMs: performance.timeOrigin + windowEnd,
    acked: ackedInWindow,
    ackedWarmup,
    ackedAfterWindow: ackedAfter,
    ackedTotal: ackedWarmup + ackedInWindow + ackedAfter,
    messagesPerSecond: measured > 0 ? ackedInWindow / (measured / 1000) : 0,
    latencyMs: { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? NaN },
    errors: errorsTotal,
    errorsInWindow,
    errorSamples: Object.fromEntries(errorSamples),
    perRecipient: Object.fromEntries(perRcpt),
    aborted,
  };
  if (acksFile) writeFileSync(acksFile, ackSeqs.map((n, i) => `${n} ${ackTimes[i]!.toFixed(3)}\n`).join(''));
  for (const [msg, count] of errorSamples) process.stderr.write(`[smtp-load] ${label}: error x${count}: ${msg}\n`);
  process.stdout.write(JSON.stringify(summary) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`[smtp-load] ${label}: fatal: ${String(err)}\n`);
  process.exit(1);
});
