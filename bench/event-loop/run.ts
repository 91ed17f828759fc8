/**
 * Does the event loop stay free while the disk works? One IMAP session sends NOOP after NOOP
 * and times each reply, first on a quiet server, then while 20 SMTP clients deliver without
 * pause and one IMAP client APPENDs a 25 MB message again and again. Every delivery and append
 * is fsync'd before it is acknowledged; those fsyncs (and the checkpoints) must not stall the
 * thread that answers the NOOPs. Prints NOOP p50/p99/max for both phases and their ratio.
 *
 *   npm run build && npm run bench:event-loop [-- --duration 20 --clients 20 --append-mb 25]
 */
import { parseArgs } from 'node:util';
import { fmt, intOption, log, makeWorkDir, percentile, removeDir, runMain, sleep } from '../lib/common.js';
import { openImapSession, type ImapConnection } from '../lib/imap-client.js';
import { makeMessage } from '../lib/message.js';
import { openSession } from '../lib/smtp-client.js';
import { startWharf } from '../lib/wharf.js';

const DOMAIN = 'bench.test';
const USER = { address: `loop@${DOMAIN}`, password: 'bench-loop-pass' };

interface Phase {
  latencies: number[];
}

/** NOOPs back to back (one in flight) until `until`; latency of each in milliseconds. */
async function probe(imap: ImapConnection, until: number): Promise<Phase> {
  const latencies: number[] = [];
  while (Date.now() < until) {
    const start = process.hrtime.bigint();
    await imap.ok('NOOP');
    latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
    await sleep(2);
  }
  return { latencies: latencies.sort((a, b) => a - b) };
}

function describe(name: string, phase: Phase): string {
  const l = phase.latencies;
  return `${name.padEnd(28)} ${String(l.length).padStart(7)} NOOPs   p50 ${fmt(percentile(l, 50), 2).padStart(7)} ms   p99 ${fmt(percentile(l, 99), 2).padStart(7)} ms   max ${fmt(l[l.length - 1] ?? 0, 1).padStart(7)} ms`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      clients: { type: 'string' },
      'append-mb': { type: 'string' },
      keep: { type: 'boolean' },
    },
  });
  const duration = intOption(values.duration, 'BENCH_DURATION', 20, 2, 3600);
  const clients = intOption(values.clients, 'BENCH_CLIENTS', 20, 1, 500);
  const appendMb = intOption(values['append-mb'], 'BENCH_APPEND_MB', 25, 1, 45);
  const dir = await makeWorkDir('event-loop');
  const wharf = await startWharf({ dir, domain: DOMAIN, users: [USER], imap: true });
  try {
    const prober = await openImapSession('127.0.0.1', wharf.imapPort, USER.address, USER.password);
    await prober.ok('SELECT INBOX');
    log(`quiet phase: ${Math.min(duration, 10)} s of NOOPs`);
    const quiet = await probe(prober, Date.now() + Math.min(duration, 10) * 1000);

    log(`load phase: ${duration} s; ${clients} SMTP clients deliver, one client APPENDs ${appendMb} MB messages`);
    const until = Date.now() + duration * 1000;
    let delivered = 0;
    let appended = 0;
    const message = makeMessage({ size: 10 * 1024, from: 'load@sender.example', to: USER.address, runId: 'loop', seq: 1 });
    const senders = Array.from({ length: clients }, async () => {
      const smtp = await openSession('127.0.0.1', wharf.smtpPort, 'load.sender.example');
      while (Date.now() < until) {
        await smtp.send('load@sender.example', USER.address, message);
        delivered++;
      }
      await smtp.quit();
    });
    const big = Buffer.alloc(appendMb * 1024 * 1024, 'x');
    Buffer.from(`From: big@sender.example\r\nTo: ${USER.address}\r\nSubject: big\r\n\r\n`).copy(big);
    for (let i = 200; i < big.length; i += 100) big.write('\r\n', i - 2, 'latin1');
    const appender = (async () => {
      const imap = await openImapSession('127.0.0.1', wharf.imapPort, USER.address, USER.password);
      while (Date.now() < until) {
        await imap.append('Archive', big);
        appended++;
      }
      await imap.logout();
    })();
    const loaded = await probe(prober, until);
    await Promise.all([...senders, appender]);
    await prober.logout();

    console.log('');
    console.log(`NOOP round trips on one IMAP session (Wharf, ${duration} s under load)`);
    console.log(describe('quiet server', quiet));
    console.log(describe(`under load`, loaded));
    console.log(`load: ${delivered} SMTP deliveries (${fmt(delivered / duration)} msg/s), ${appended} APPENDs of ${appendMb} MB`);
    console.log(`p99 under load / p99 quiet: ${fmt(percentile(loaded.latencies, 99) / Math.max(0.001, percentile(quiet.latencies, 99)), 2)}`);
  } finally {
    await wharf.stop();
    if (!values.keep) await removeDir(dir);
  }
}

runMain(main);
