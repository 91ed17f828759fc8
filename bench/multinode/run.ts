/**
 * Scaling benchmark: the SMTP inbound load of bench/smtp-inbound (same generator, same
 * messages) against
 *   1. one Wharf node on SQLite,
 *   2. one Wharf node on PostgreSQL,
 *   3. two Wharf nodes on the same PostgreSQL database, behind a round-robin client
 *      (the generator's sessions alternate between the two nodes' SMTP ports).
 * Prints msgs/s for each, the ratios (PostgreSQL/SQLite, two nodes/one node), and where the
 * CPU went during the measured window (each Wharf node, all PostgreSQL processes, and the
 * whole machine, which includes the load generator), so what bounds the scaling is read off,
 * not guessed.
 *
 *   node dist/bench/multinode/run.js [--duration 20] [--warmup 3] [--sessions 20] [--size 10240]
 *        [--users 5] [--only sqlite,pg1,pg2] [--database-url postgres://postgres@127.0.0.1:5432/postgres]
 *
 * Each PostgreSQL scenario makes its own database (wharf_bench_<random>) through the given
 * maintenance URL with psql and drops it afterwards.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fmt, intOption, log, makeWorkDir, removeDir, run, runMain, runSide, settle, waitFor } from '../lib/common.js';
import { runLoad, type LoadSummary } from '../lib/load-runner.js';
import { processTree } from '../lib/proc-memory.js';
import { countMailboxMessages, startWharf, type WharfInstance } from '../lib/wharf.js';

const DOMAIN = 'bench.test';
const SENDER = 'reports@sender.example';
const SCENARIOS = ['sqlite', 'pg1', 'pg2'] as const;
type Scenario = (typeof SCENARIOS)[number];

interface CpuShare {
  /** CPU seconds per wall second (1.0 = one core busy), by who used it. */
  byWho: Record<string, number>;
  /** The whole machine, all cores (cores = the maximum). */
  machine: number;
  cores: number;
}

interface Result {
  scenario: Scenario;
  nodes: number;
  load: LoadSummary;
  delivered: number | string;
  cpu: CpuShare | null;
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
      'database-url': { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const durationS = intOption(values.duration, 'BENCH_DURATION', 20, 1, 3600);
  const warmupS = intOption(values.warmup, 'BENCH_WARMUP', 3, 0, 600);
  const sessions = intOption(values.sessions, 'BENCH_SESSIONS', 20, 1, 500);
  const size = intOption(values.size, 'BENCH_MSG_SIZE', 10_240, 200, 10_000_000);
  const userCount = intOption(values.users, 'BENCH_USERS', 5, 1, 1000);
  const adminUrl = values['database-url'] ?? process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const wanted = (values.only ?? SCENARIOS.join(',')).split(',').map((s) => s.trim());
  for (const w of wanted) if (!SCENARIOS.includes(w as Scenario)) throw new Error(`--only takes ${SCENARIOS.join(',')}, not ${w}`);

  const users = Array.from({ length: userCount }, (_, i) => ({ address: `user${i + 1}@${DOMAIN}`, password: `bench-pass-${i + 1}` }));
  const work = await makeWorkDir('multinode');
  log(`work directory ${work}`);
  const load = { sessions, durationS, warmupS, size, rcpts: users.map((u) => u.address), from: SENDER };
  const results: Result[] = [];
  const failures: string[] = [];

  for (const scenario of SCENARIOS) {
    if (!wanted.includes(scenario)) continue;
    await runSide(failures, scenario, async () => {
      const dir = join(work, scenario);
      await mkdir(dir);
      const database = scenario === 'sqlite' ? null : await createDatabase(adminUrl);
      const nodes: WharfInstance[] = [];
      try {
        const nodeCount = scenario === 'pg2' ? 2 : 1;
        for (let i = 0; i < nodeCount; i++) {
          const nodeDir = join(dir, `node${i + 1}`);
          await mkdir(nodeDir);
          nodes.push(
            await startWharf({
              dir: nodeDir,
              domain: DOMAIN,
              users,
              databaseUrl: database?.url,
              seed: i === 0,
              nodeId: `${scenario}-node${i + 1}`,
            }),
          );
        }
        await settle();
        const watched = async () => {
          const who: Record<string, number[]> = {};
          for (const [i, n] of nodes.entries()) who[`wharf node ${i + 1}`] = await processTree(n.pid);
          if (database) who['postgresql'] = await postgresPids();
          return who;
        };
        const before = await cpuSample(await watched());
        let windowStart: Sample | null = null;
        const cpuTimer = setTimeout(() => void cpuSample(watched()).then((s) => (windowStart = s)), warmupS * 1000);
        const summary = await runLoad({ ...load, label: scenario, port: nodes.map((n) => n.smtpPort) });
        clearTimeout(cpuTimer);
        const end = await cpuSample(await watched());
        const cpu = windowStart ? cpuShare(windowStart, end) : cpuShare(before, end);
        let delivered: number | string;
        try {
          delivered = await waitFor('every acknowledged message in the mailboxes', 60_000, async () => {
            const n = await countMailboxMessages(nodes[nodes.length - 1]!.pop3Port, users);
            return n >= summary.ackedTotal ? n : undefined;
          }, 1000);
        } catch (err) {
          delivered = `not all found (${String(err)})`;
        }
        results.push({ scenario, nodes: nodeCount, load: summary, delivered, cpu });
      } finally {
        for (const n of nodes) await n.stop();
        if (database) await database.drop();
      }
    });
  }

  printReport(results, { sessions, size, durationS, warmupS, userCount });
  for (const f of failures) process.stdout.write(`FAILED ${f}\n`);
  const failed = failures.length > 0 || results.some((r) => r.load.acked === 0 || r.load.aborted);
  if (values.keep || failed) log(`kept work directory ${work}`);
  else await removeDir(work);
  if (failed) process.exitCode = 1;
});

/** A fresh database for one scenario, made and dropped with psql through the maintenance URL. */
async function createDatabase(adminUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `wharf_bench_${randomBytes(4).toString('hex')}`;
  await run('psql', [adminUrl, '-v', 'ON_ERROR_STOP=1', '-qc', `CREATE DATABASE ${name}`]);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  log(`created database ${name}`);
  return {
    url: url.toString(),
    drop: async () => {
      await run('psql', [adminUrl, '-qc', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`]).catch((err: unknown) => log(`could not drop ${name}: ${String(err)}`));
    },
  };
}

/** Every PostgreSQL server process on the machine (the postmaster and its backends). */
async function postgresPids(): Promise<number[]> {
  const { stdout } = await run('pgrep', ['-x', 'postgres']).catch(() => ({ stdout: '' }));
  return stdout.split('\n').map(Number).filter((n) => n > 0);
}

interface Sample {
  at: number;
  /** CPU ticks per group. */
  ticks: Record<string, number>;
  machineBusy: number;
}

async function processTicks(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after "pid (comm) ".
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0; // the process ended between listing and reading
  }
}

async function cpuSample(groups: Record<string, number[]> | Promise<Record<string, number[]>>): Promise<Sample> {
  const resolved = await groups;
  const ticks: Record<string, number> = {};
  for (const [name, pids] of Object.entries(resolved)) {
    let sum = 0;
    for (const pid of pids) sum += await processTicks(pid);
    ticks[name] = sum;
  }
  const cpu = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: busy is everything but idle and iowait.
  const busy = cpu.reduce((a, b) => a + b, 0) - (cpu[3] ?? 0) - (cpu[4] ?? 0);
  return { at: performance.now(), ticks, machineBusy: busy };
}

const TICKS_PER_SECOND = 100;

function cpuShare(a: Sample, b: Sample): CpuShare {
  const seconds = (b.at - a.at) / 1000;
  const byWho: Record<string, number> = {};
  for (const name of Object.keys(b.ticks)) {
    // Processes that started after `a` (new PostgreSQL backends) count from zero.
    byWho[name] = Math.max(0, (b.ticks[name]! - (a.ticks[name] ?? 0)) / TICKS_PER_SECOND / seconds);
  }
  const machine = (b.machineBusy - a.machineBusy) / TICKS_PER_SECOND / seconds;
  return { byWho, machine, cores: availableParallelism() };
}


function printReport(results: Result[], p: { sessions: number; size: number; durationS: number; warmupS: number; userCount: number }): void {
  const lines: string[] = [''];
  lines.push(
    `SMTP inbound, scaling: ${p.sessions} concurrent sessions, ${p.size}-byte messages to ${p.userCount} local users, ${p.durationS} s measured after ${p.warmupS} s warm-up`,
  );
  lines.push(`${'scenario'.padEnd(22)}${'msgs/s'.padStart(9)}${'acked'.padStart(8)}${'errors'.padStart(8)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'in mailboxes'.padStart(14)}`);
  const label: Record<Scenario, string> = { sqlite: '1 node, SQLite', pg1: '1 node, PostgreSQL', pg2: '2 nodes, PostgreSQL' };
  for (const r of results) {
    const l = r.load;
    lines.push(
      `${label[r.scenario].padEnd(22)}${fmt(l.messagesPerSecond).padStart(9)}${String(l.acked).padStart(8)}${String(l.errors).padStart(8)}${fmt(l.latencyMs.p50).padStart(9)}${fmt(l.latencyMs.p99).padStart(9)}${String(r.delivered).padStart(14)}`,
    );
    for (const [msg, n] of Object.entries(l.errorSamples)) lines.push(`  error x${n}: ${msg}`);
    if (r.cpu) {
      const parts = Object.entries(r.cpu.byWho).map(([who, c]) => `${who} ${c.toFixed(2)}`);
      lines.push(`  CPU (cores busy) during the window: ${parts.join(', ')}; whole machine ${r.cpu.machine.toFixed(2)} of ${r.cpu.cores}`);
      // On a machine shared with other work the rate moves with the others' load; the CPU
      // each message cost moves much less, so the two are read together.
      if (l.messagesPerSecond > 0) {
        const perMessage = Object.entries(r.cpu.byWho).map(([who, c]) => `${who} ${((c / l.messagesPerSecond) * 1000).toFixed(2)}`);
        lines.push(`  CPU ms per message: ${perMessage.join(', ')}`);
      }
    }
  }
  const rate = (s: Scenario) => results.find((r) => r.scenario === s)?.load.messagesPerSecond ?? 0;
  if (rate('sqlite') > 0 && rate('pg1') > 0) lines.push(`ratio 1 node PostgreSQL / 1 node SQLite = ${(rate('pg1') / rate('sqlite')).toFixed(2)} (target >= 0.7)`);
  if (rate('pg1') > 0 && rate('pg2') > 0) lines.push(`ratio 2 nodes / 1 node on PostgreSQL = ${(rate('pg2') / rate('pg1')).toFixed(2)} (target >= 1.6)`);
  process.stdout.write(lines.join('\n') + '\n');
}
