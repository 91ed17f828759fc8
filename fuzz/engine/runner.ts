/**
 * The fuzz loop: inputs from the target's generator and mutations of its corpus (plus, with
 * coverage on, of the inputs that reached new code), each run once and checked for an escaping
 * error or broken invariant, for time (over 1 s is a hang), and, now and then, for heap growth.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { CoverageTracker } from './coverage.js';
import { mutate } from './mutate.js';
import { Rng } from './rng.js';
import type { FuzzTarget, Generated } from './types.js';

/** The repository root, found from dist/fuzz/engine/ (compiled) or fuzz/engine/. */
export const REPO_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));

function findRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above the fuzz engine');
    dir = up;
  }
  return dir;
}

export const CORPUS_DIR = join(REPO_ROOT, 'fuzz', 'corpus');
export const CRASH_DIR = join(REPO_ROOT, 'fuzz', 'crashes');

export interface RunOptions {
  runs: number;
  seed: number;
  /** Stop after this long even if `runs` is not reached (ms). */
  timeLimitMs?: number;
  /** One input taking longer than this is a hang. */
  slowMs?: number;
  /** Heap used (after the periodic check) above this is a failure. */
  maxHeapBytes?: number;
  /** Keep inputs that reach new blocks of dist/src (V8 block coverage). */
  coverage?: boolean;
  /** Write failing inputs to fuzz/crashes/<target>/ (the CLI does; the test suite does not). */
  saveCrashes?: boolean;
  /** Kill the process when one input blocks the thread this long (CLI only). */
  watchdogMs?: number;
  /** Progress lines every this many ms (0: none). */
  progressMs?: number;
  /** Go on after a failure (counting them) instead of stopping at the first. */
  keepGoing?: boolean;
  log?: (line: string) => void;
}

export interface Failure {
  kind: 'crash' | 'hang' | 'memory';
  message: string;
  input: Buffer;
  file: string | null;
}

export interface RunStats {
  target: string;
  executions: number;
  generated: number;
  mutated: number;
  crashes: number;
  hangs: number;
  memoryFailures: number;
  elapsedMs: number;
  execsPerSecond: number;
  slowestMs: number;
  peakHeapBytes: number;
  corpusSize: number;
  coverageBlocks: number | null;
  keptByCoverage: number;
  failures: Failure[];
}

/** Every file of a target's corpus, regressions included. */
export function loadCorpus(target: string): Buffer[] {
  const dir = join(CORPUS_DIR, target);
  if (!existsSync(dir)) return [];
  const out: Buffer[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(readFileSync(path));
    }
  };
  walk(dir);
  return out;
}

/** The files under fuzz/corpus/<target>/regressions/ (inputs that once failed). */
export function regressionFiles(target: string): string[] {
  const dir = join(CORPUS_DIR, target, 'regressions');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .map((name) => join(dir, name));
}

const TIMEOUT = Symbol('timeout');

/** Runs one input with a time limit; returns the time taken or throws what the target threw. */
export async function runOne<E>(target: FuzzTarget<E>, bytes: Buffer, expect: E | undefined, limitMs: number): Promise<number | typeof TIMEOUT> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = target.run(bytes, expect);
    if (result instanceof Promise) {
      const timeout = new Promise<typeof TIMEOUT>((resolve) => {
        timer = setTimeout(() => resolve(TIMEOUT), limitMs);
      });
      const outcome = await Promise.race([result.then(() => undefined), timeout]);
      if (outcome === TIMEOUT) {
        // The run goes on in the background; make sure its eventual failure is not unhandled.
        result.catch(() => {});
        return TIMEOUT;
      }
    }
  } finally {
    if (timer) clearTimeout(timer);
  }
  return performance.now() - started;
}

export async function runTarget<E>(target: FuzzTarget<E>, options: RunOptions): Promise<RunStats> {
  const log = options.log ?? ((line: string) => process.stdout.write(line + '\n'));
  const slowMs = options.slowMs ?? 1000;
  const maxHeap = options.maxHeapBytes ?? 1024 * 1024 * 1024;
  const maxInput = target.maxInputBytes ?? 16 * 1024;
  const rng = new Rng(options.seed);
  const corpus = loadCorpus(target.name);
  /** Bases for mutation: the corpus, inputs that reached new code, recent generated ones. */
  const kept: Buffer[] = [];
  const recent: Buffer[] = [];
  const coverage = options.coverage ? new CoverageTracker((url) => url.includes('/dist/src/')) : null;
  const watchdog = options.watchdogMs ? startWatchdog(target.name, options.watchdogMs) : null;

  const stats: RunStats = {
    target: target.name,
    executions: 0,
    generated: 0,
    mutated: 0,
    crashes: 0,
    hangs: 0,
    memoryFailures: 0,
    elapsedMs: 0,
    execsPerSecond: 0,
    slowestMs: 0,
    peakHeapBytes: 0,
    corpusSize: corpus.length,
    coverageBlocks: null,
    keptByCoverage: 0,
    failures: [],
  };

  let batch: Generated<E>[] = [];
  let batchNumber = 0;
  const nextGenerated = (): Generated<E> => {
    if (batch.length === 0) {
      batch = fc.sample(target.generator, { numRuns: 200, seed: (options.seed + batchNumber++ * 7919) | 0 });
    }
    return batch.pop()!;
  };

  const record = (kind: Failure['kind'], message: string, input: Buffer) => {
    let file: string | null = null;
    if (options.saveCrashes) {
      const dir = join(CRASH_DIR, target.name);
      mkdirSync(dir, { recursive: true });
      file = join(dir, `${kind}-${Date.now()}-${stats.executions}.bin`);
      writeFileSync(file, input);
    }
    stats.failures.push({ kind, message, input, file });
    if (kind === 'crash') stats.crashes++;
    else if (kind === 'hang') stats.hangs++;
    else stats.memoryFailures++;
    log(`${kind.toUpperCase()} in ${target.name} after ${stats.executions} inputs: ${message}${file ? `\n  input written to ${file}` : ''}`);
  };

  const started = Date.now();
  let lastProgress = started;
  while (stats.executions < options.runs) {
    if (options.timeLimitMs !== undefined && Date.now() - started > options.timeLimitMs) break;
    let input: Generated<E>;
    const bases = corpus.length + kept.length + recent.length;
    if (bases === 0 || rng.chance(0.45)) {
      input = nextGenerated();
      stats.generated++;
      if (input.bytes.length <= maxInput) {
        if (recent.length < 64) recent.push(input.bytes);
        else recent[rng.int(recent.length)] = input.bytes;
      }
    } else {
      const pool = [...corpus, ...kept, ...recent];
      const base = kept.length > 0 && rng.chance(0.3) ? rng.pick(kept) : rng.pick(pool);
      input = { bytes: mutate(rng, base, pool, target.dictionary ?? [], maxInput) };
      stats.mutated++;
    }

    watchdog?.begin(input.bytes);
    let outcome: number | typeof TIMEOUT;
    try {
      outcome = await runOne(target, input.bytes, input.expect, slowMs * 5);
    } catch (err) {
      watchdog?.end();
      stats.executions++;
      record('crash', describe(err), input.bytes);
      if (!options.keepGoing) break;
      continue;
    }
    watchdog?.end();
    stats.executions++;
    if (outcome === TIMEOUT) {
      record('hang', `no result after ${slowMs * 5} ms`, input.bytes);
      if (!options.keepGoing) break;
    } else {
      if (outcome > slowMs) {
        // The machine may just have been busy: a hang is an input that is slow twice.
        const again = await runOne(target, input.bytes, input.expect, slowMs * 5).catch(() => 0);
        if (again === TIMEOUT || again > slowMs) {
          record('hang', `took ${Math.round(outcome)} ms, then ${again === TIMEOUT ? 'over ' + slowMs * 5 : Math.round(again)} ms`, input.bytes);
          if (!options.keepGoing) break;
        }
      }
      stats.slowestMs = Math.max(stats.slowestMs, outcome);
    }
    if (coverage && coverage.collect() > 0 && input.bytes.length <= maxInput) {
      if (kept.length < 4000) kept.push(input.bytes);
      else kept[rng.int(kept.length)] = input.bytes;
      stats.keptByCoverage++;
    }
    if (stats.executions % 256 === 0) {
      const heap = process.memoryUsage().heapUsed;
      stats.peakHeapBytes = Math.max(stats.peakHeapBytes, heap);
      if (heap > maxHeap) {
        record('memory', `heap at ${Math.round(heap / 1048576)} MB (limit ${Math.round(maxHeap / 1048576)} MB)`, input.bytes);
        break;
      }
      const now = Date.now();
      if (options.progressMs && now - lastProgress >= options.progressMs) {
        lastProgress = now;
        const rate = stats.executions / ((now - started) / 1000);
        log(
          `  ${target.name}: ${stats.executions} execs, ${Math.round(rate)}/s, crashes ${stats.crashes}, hangs ${stats.hangs}, heap ${Math.round(heap / 1048576)} MB` +
            (coverage ? `, blocks ${coverage.blocksReached}, kept ${kept.length}` : ''),
        );
      }
    }
  }
  stats.elapsedMs = Date.now() - started;
  stats.execsPerSecond = stats.executions / Math.max(stats.elapsedMs / 1000, 0.001);
  stats.peakHeapBytes = Math.max(stats.peakHeapBytes, process.memoryUsage().heapUsed);
  if (coverage) {
    stats.coverageBlocks = coverage.blocksReached;
    coverage.stop();
  }
  await watchdog?.stop();
  return stats;
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}\n${(err.stack ?? '').split('\n').slice(1, 6).join('\n')}`;
  return String(err);
}

interface Watchdog {
  begin(input: Buffer): void;
  end(): void;
  stop(): Promise<number>;
}

const WATCHDOG_INPUT_BYTES = 4 * 1024 * 1024;

function startWatchdog(target: string, hardLimitMs: number): Watchdog {
  const state = new SharedArrayBuffer(3 * 8);
  const input = new SharedArrayBuffer(WATCHDOG_INPUT_BYTES);
  const view = new BigInt64Array(state);
  const bytes = new Uint8Array(input);
  const worker = new Worker(new URL('./watchdog.js', import.meta.url), {
    workerData: { state, input, hardLimitMs, crashDir: join(CRASH_DIR, target) },
  });
  worker.unref();
  return {
    begin(data) {
      const n = Math.min(data.length, WATCHDOG_INPUT_BYTES);
      bytes.set(data.subarray(0, n));
      Atomics.store(view, 2, BigInt(n));
      Atomics.store(view, 1, BigInt(Date.now()));
      Atomics.store(view, 0, 1n);
    },
    end() {
      Atomics.store(view, 0, 0n);
    },
    stop: () => worker.terminate(),
  };
}
