/**
 * npm run fuzz:wire -- --rounds N [--protocol smtp|pop3|imap|ftp|sftp] [--seed S] [--per-round K] [--concurrency C] [--keep]
 *
 * Replays mutated recorded client sessions against a live `wharf serve` and prints rounds,
 * sessions sent, server restarts (must be 0), the slowest well-behaved reply, and RSS and
 * descriptors at the baseline and at the end. Exit 1 when the server died, a well-behaved
 * client was not served, or descriptors did not come back to the baseline.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FD_SLACK, fuzzWire, RSS_SLACK_BYTES } from './fuzzer.js';

const USAGE =
  'usage: npm run fuzz:wire -- --rounds N [--protocol smtp|pop3|imap|ftp|sftp] [--seed S] [--per-round K] [--concurrency C] [--keep]';

function readArgs() {
  try {
    return parseArgs({
      options: {
        rounds: { type: 'string', default: '10' },
        protocol: { type: 'string' },
        seed: { type: 'string' },
        'per-round': { type: 'string', default: '2' },
        concurrency: { type: 'string', default: '8' },
        keep: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    });
  } catch (err) {
    // A mistyped option: say what and how, without a stack trace.
    console.error(`${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}
const { values } = readArgs();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const int = (v: string | undefined, name: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name}: expected a whole number, got ${v}`);
  return n;
};
const protocols = ['smtp', 'pop3', 'imap', 'ftp', 'sftp'];
if (values.protocol && !protocols.includes(values.protocol)) throw new Error(`--protocol: one of ${protocols.join(', ')}`);
const seed = values.seed !== undefined ? int(values.seed, 'seed') : Math.floor(Math.random() * 2 ** 31);
const workDir = await mkdtemp(join(tmpdir(), 'wharf-wire-fuzz-'));
// Interrupted: exit, which stops the server (its 'exit' hook); the work directory stays for a look.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    process.stderr.write(`[fuzz:wire] ${signal}: stopping; work directory ${workDir}\n`);
    process.exit(130);
  });
}
const mb = (b: number) => `${(b / 1048576).toFixed(1)} MB`;
const t0 = Date.now();
const s = await fuzzWire({
  rounds: int(values.rounds, 'rounds'),
  protocol: values.protocol,
  seed,
  perRound: int(values['per-round'], 'per-round'),
  concurrency: Math.max(1, int(values.concurrency, 'concurrency')),
  workDir,
  log: (line) => process.stderr.write(`[fuzz:wire] ${line}\n`),
});
const fdsBack = s.end.openFds <= s.baseline.openFds + FD_SLACK;
const rssBack = s.end.rssBytes <= s.baseline.rssBytes + RSS_SLACK_BYTES;
console.log(`seed                      ${s.seed}${values.protocol ? ` (protocol ${values.protocol})` : ''}`);
console.log(`rounds                    ${s.rounds} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
console.log(`mutated sessions sent     ${s.sessionsSent} (${s.refused} refused or cut before the first byte)`);
console.log(`  of which in TLS after STARTTLS ${s.tlsUpgrades}, FTP data connections ${s.dataConnections}`);
console.log(`server restarts           ${s.restarts}`);
console.log(`well-behaved sessions     ${s.goodChecks}, ${s.goodFailures.length} not served`);
console.log(`slowest well-behaved      ${s.slowestGood ? `${s.slowestGood.ms.toFixed(0)} ms (${s.slowestGood.service})` : '-'}`);
console.log(`rss  baseline → end       ${mb(s.baseline.rssBytes)} → ${mb(s.end.rssBytes)}${rssBack ? '' : `  (more than ${mb(RSS_SLACK_BYTES)} over the baseline)`}`);
console.log(`fds  baseline → end       ${s.baseline.openFds} → ${s.end.openFds}${fdsBack ? '' : '  (NOT back to the baseline)'}`);
console.log(`server errors logged       ${[...s.serverErrors.values()].reduce((a, b) => a + b, 0)}`);
for (const [what, n] of s.serverErrors) console.log(`  ${n} × ${what}`);
for (const f of s.findings) console.log(`FINDING ${f.kind} in round ${f.round}: ${f.detail} (inputs: ${f.file})`);
const failed = s.restarts > 0 || s.goodFailures.length > 0 || !fdsBack || !rssBack;
if (!failed && !values.keep) await rm(workDir, { recursive: true, force: true });
else console.log(`work directory kept: ${workDir}`);
process.exitCode = failed ? 1 : 0;
