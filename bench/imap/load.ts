/**
 * IMAP load generator: one program, used unchanged against every server, run by bench/imap/run
 * as a separate process. Progress goes to stderr; the last stdout line is a JSON summary.
 *
 *   node dist/bench/imap/load.js --scenario mixed --port P --user U --pass W --messages N
 *        [--clients 20] [--duration 20] [--warmup 3] [--idle-interval 250]
 *   node dist/bench/imap/load.js --scenario big --port P --user U --pass W --messages N [--rounds 5]
 *   node dist/bench/imap/load.js --scenario sessions --port P --user U --pass W --sessions N
 *        --server-pid PID [--concurrency 50] [--min-free-mib 2048]
 */
import { parseArgs } from 'node:util';
import { runBig } from './big-mailbox.js';
import { runSessions } from './idle-sessions.js';
import { runMixed } from './mixed-load.js';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    user: { type: 'string' },
    pass: { type: 'string' },
    label: { type: 'string', default: 'server' },
    timeout: { type: 'string', default: '120' },
    messages: { type: 'string', default: '2000' },
    clients: { type: 'string', default: '20' },
    duration: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    'idle-interval': { type: 'string', default: '250' },
    rounds: { type: 'string', default: '5' },
    sessions: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '50' },
    'server-pid': { type: 'string' },
    'min-free-mib': { type: 'string', default: '2048' },
    settle: { type: 'string', default: '3000' },
  },
  strict: true,
});

function num(name: string, v: string | undefined, min: number, max: number): number {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || n < min || n > max) {
    process.stderr.write(`imap-load: --${name} must be a number in [${min}, ${max}]\n`);
    process.exit(2);
  }
  return n;
}

const label = values.label!;
const log = (msg: string) => process.stderr.write(`[imap-load] ${msg}\n`);
if (!values.user || values.pass === undefined) {
  process.stderr.write('imap-load: --user and --pass are required\n');
  process.exit(2);
}
const common = {
  host: values.host!,
  port: num('port', values.port, 1, 65535),
  user: values.user,
  pass: values.pass,
  label,
  timeoutMs: num('timeout', values.timeout, 1, 3600) * 1000,
};

async function main(): Promise<unknown> {
  switch (values.scenario) {
    case 'mixed': {
      const o = {
        ...common,
        clients: num('clients', values.clients, 1, 1000),
        durationS: num('duration', values.duration, 1, 3600),
        warmupS: num('warmup', values.warmup, 0, 600),
        messages: num('messages', values.messages, 50, 10_000_000),
        idleIntervalMs: num('idle-interval', values['idle-interval'], 10, 60_000),
      };
      log(`${label}: ${o.clients} clients -> ${o.host}:${o.port}, warm-up ${o.warmupS} s, measuring ${o.durationS} s`);
      // Backstop: the clients stop by themselves at the end of the window.
      const hardStop = setTimeout(() => {
        log(`${label}: clients did not finish in time; giving up`);
        process.exit(1);
      }, (o.warmupS + o.durationS) * 1000 + o.timeoutMs * 2 + 10_000);
      const progress = setInterval(() => log(`${label}: running`), 10_000);
      try {
        return await runMixed(o);
      } finally {
        clearTimeout(hardStop);
        clearInterval(progress);
      }
    }
    case 'big':
      return runBig({ ...common, log, messages: num('messages', values.messages, 1, 10_000_000), rounds: num('rounds', values.rounds, 1, 100) });
    case 'sessions':
      return runSessions({
        ...common,
        log,
        sessions: num('sessions', values.sessions, 1, 100_000),
        concurrency: num('concurrency', values.concurrency, 1, 1000),
        serverPid: num('server-pid', values['server-pid'], 1, 2 ** 22),
        minFreeMiB: num('min-free-mib', values['min-free-mib'], 0, 1_000_000),
        settleMs: num('settle', values.settle, 0, 600_000),
      });
    default:
      process.stderr.write('imap-load: --scenario mixed|big|sessions is required\n');
      process.exit(2);
  }
}

main().then(
  (summary) => {
    process.stdout.write(JSON.stringify(summary) + '\n');
    process.exit(0); // sockets left to the server's end must not keep us waiting
  },
  (err: unknown) => {
    log(`${label}: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
