/**
 * `npm run fuzz -- TARGET|all|list [--runs N] [--seed S] [--time SECONDS] [--coverage]
 * [--keep-going] [--replay FILE]`: runs fuzz targets and prints executions, execs/s, crashes
 * and hangs. A failing input is written to fuzz/crashes/<target>/ and the exit status is 1.
 */
import { readFileSync } from 'node:fs';
import { runOne, runTarget, type RunStats } from './engine/runner.js';
import { TARGETS, findTarget } from './targets/index.js';

interface Args {
  target: string;
  runs: number;
  seed: number;
  timeSeconds?: number;
  coverage: boolean;
  keepGoing: boolean;
  replay?: string;
}

const USAGE = 'usage: npm run fuzz -- TARGET|all|list [--runs N] [--seed S] [--time SECONDS] [--coverage] [--keep-going] [--replay FILE]';

/** A mistake in the command line: printed with the usage, not as a stack trace. */
class UsageError extends Error {}

function parseArgs(argv: string[]): Args {
  const args: Args = { target: '', runs: 10_000, seed: Date.now() % 2 ** 31, coverage: false, keepGoing: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--runs') args.runs = Number(value());
    else if (a === '--seed') args.seed = Number(value());
    else if (a === '--time') args.timeSeconds = Number(value());
    else if (a === '--coverage') args.coverage = true;
    else if (a === '--keep-going') args.keepGoing = true;
    else if (a === '--replay') args.replay = value();
    else if (!a.startsWith('-') && !args.target) args.target = a;
    else if (a === '--help' || a === '-h') throw new UsageError('');
    else throw new UsageError(`unknown argument ${a}`);
  }
  if (!args.target) throw new UsageError('name a target, "all" or "list"');
  if (!Number.isInteger(args.runs) || args.runs < 1) throw new UsageError('--runs takes a positive integer');
  if (!Number.isInteger(args.seed)) throw new UsageError('--seed takes an integer');
  return args;
}

function summary(s: RunStats, seed: number): string {
  return (
    `${s.target}: ${s.executions} executions (${s.generated} generated, ${s.mutated} mutated) in ${(s.elapsedMs / 1000).toFixed(1)} s, ` +
    `${Math.round(s.execsPerSecond)} execs/s, crashes ${s.crashes}, hangs ${s.hangs}, memory ${s.memoryFailures}, ` +
    `slowest ${s.slowestMs.toFixed(1)} ms, peak heap ${Math.round(s.peakHeapBytes / 1048576)} MB, corpus ${s.corpusSize}` +
    (s.coverageBlocks !== null ? `, blocks ${s.coverageBlocks}, kept ${s.keptByCoverage}` : '') +
    `, seed ${seed}`
  );
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.target === 'list') {
    for (const t of TARGETS) console.log(`${t.name.padEnd(20)} ${t.description}`);
    return 0;
  }
  const targets = args.target === 'all' ? TARGETS : [findTarget(args.target)];
  if (targets.some((t) => !t)) throw new UsageError(`no target ${args.target}; try "list"`);
  if (args.replay) {
    const target = targets[0]!;
    const outcome = await runOne(target, readFileSync(args.replay), undefined, 5000);
    console.log(`${target.name}: ${args.replay} ran in ${typeof outcome === 'number' ? outcome.toFixed(1) + ' ms' : 'over 5000 ms (hang)'}`);
    return typeof outcome === 'number' ? 0 : 1;
  }
  let failed = false;
  for (const target of targets) {
    const stats = await runTarget(target!, {
      runs: args.runs,
      seed: args.seed,
      timeLimitMs: args.timeSeconds !== undefined ? args.timeSeconds * 1000 : undefined,
      coverage: args.coverage,
      saveCrashes: true,
      watchdogMs: 30_000,
      progressMs: 10_000,
      keepGoing: args.keepGoing,
    });
    console.log(summary(stats, args.seed));
    if (stats.failures.length > 0) failed = true;
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      if (err.message) console.error(err.message);
      console.error(USAGE);
      process.exit(err.message ? 2 : 0);
    }
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(2);
  },
);
