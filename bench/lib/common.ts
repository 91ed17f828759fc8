/**
 * Shared plumbing for the benchmark runners: locating the repository, work directories,
 * free loopback ports, child processes that are always stopped (also on error and Ctrl-C),
 * and bounded waiting.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const LOOPBACK = '127.0.0.1';

/** The repository root: the nearest parent of this file holding Wharf's package.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 10; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'wharf') return dir;
      } catch {
        // not ours; keep looking
      }
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error('cannot find the Wharf repository root above ' + fileURLToPath(import.meta.url));
}

/** Directory of compiled benchmark modules (dist/bench/lib). */
export function libDir(): string {
  return dirname(fileURLToPath(import.meta.url));
}

export function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it returns a truthy value or `timeoutMs` passes (then throws). */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined | null | false> | T | undefined | null | false, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}` + (lastErr ? ` (last error: ${String(lastErr)})` : ''));
}

/** A TCP port on `host` (default 127.0.0.1) that was free a moment ago. */
export function freePort(host = LOOPBACK): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? res(port) : rej(new Error('no port'))));
    });
  });
}

/** Whether a TCP listener could be opened on host:port just now. */
function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.once('error', () => res(false));
    srv.listen(port, host, () => srv.close(() => res(true)));
  });
}

/**
 * One TCP port number free on every one of `hosts` a moment ago: for servers on different
 * loopback addresses (127.0.0.1, 127.0.0.2, ...) that use the same port, as MX hosts all use 25.
 */
export async function freePortOn(hosts: string[]): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await freePort(hosts[0]);
    let free = true;
    for (const h of hosts.slice(1)) if (!(await portFree(h, port))) free = false;
    if (free) return port;
  }
  throw new Error(`no port free on all of ${hosts.join(', ')}`);
}

/** Resolves true once a TCP connection to host:port (default 127.0.0.1) succeeds. */
export function canConnect(port: number, timeoutMs = 1000, host = LOOPBACK): Promise<boolean> {
  return new Promise((res) => {
    const sock = connect({ host, port });
    const timer = setTimeout(() => {
      sock.destroy();
      res(false);
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.destroy();
      res(true);
    });
    sock.once('error', () => {
      clearTimeout(timer);
      res(false);
    });
  });
}

/**
 * Wall-clock time in milliseconds with sub-millisecond resolution, comparable between the
 * runner and the load generator (separate processes on the same machine).
 */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * A fresh work directory under bench/.work (git-ignored; same filesystem as the repository, so
 * every server's fsync hits the same disk), or under $BENCH_WORKDIR when set. World-traversable,
 * because Postfix and Dovecot deliver and read mail as an unprivileged user.
 */
export async function makeWorkDir(prefix: string): Promise<string> {
  const parent = process.env.BENCH_WORKDIR ? resolve(process.env.BENCH_WORKDIR) : join(repoRoot(), 'bench', '.work');
  await mkdir(parent, { recursive: true });
  const dir = await mkdtemp(join(parent, `${prefix}-`));
  await chmod(dir, 0o755);
  return dir;
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

// ---------------------------------------------------------------------------------------------
// Cleanup: everything registered here runs once, on normal completion, on an error, and on
// SIGINT/SIGTERM. Each entry has an async form and a synchronous last-resort form used when the
// process is exiting and cannot wait any more.

interface CleanupEntry {
  name: string;
  run: () => Promise<void>;
  runSync: () => void;
  done: boolean;
}

const cleanups: CleanupEntry[] = [];
let signalsInstalled = false;
let interrupted = false;

/** True once SIGINT/SIGTERM/SIGHUP arrived: start nothing new. */
export function isInterrupted(): boolean {
  return interrupted;
}

/** Runs one cleanup entry once; when its orderly stop fails, forces it. */
async function runEntry(entry: CleanupEntry): Promise<void> {
  if (entry.done) return;
  entry.done = true;
  try {
    await entry.run();
  } catch (err) {
    log(`cleanup ${entry.name} failed: ${String(err)}; forcing`);
    try {
      entry.runSync();
    } catch {
      // nothing more to do
    }
  }
}

export function onCleanup(name: string, run: () => Promise<void>, runSync: () => void): () => Promise<void> {
  installSignalHandlers();
  const entry: CleanupEntry = { name, run, runSync, done: false };
  cleanups.push(entry);
  return () => runEntry(entry);
}

export async function runCleanups(): Promise<void> {
  for (const entry of [...cleanups].reverse()) await runEntry(entry);
}

/**
 * Runs one side of a comparison (one server's measurement). A failure is logged and recorded
 * in `failures`, that side's server is stopped, and the caller goes on with the other side:
 * its numbers are still worth having.
 */
export async function runSide(failures: string[], name: string, body: () => Promise<void>): Promise<void> {
  if (isInterrupted()) return;
  try {
    await body();
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    failures.push(`${name}: ${msg}`);
    log(`${name} FAILED: ${err instanceof Error ? (err.stack ?? msg) : msg}`);
    await runCleanups();
  }
}

function runCleanupsSync(): void {
  for (const entry of [...cleanups].reverse()) {
    if (entry.done) continue;
    entry.done = true;
    try {
      entry.runSync();
    } catch {
      // best effort
    }
  }
}

function installSignalHandlers(): void {
  if (signalsInstalled) return;
  signalsInstalled = true;
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) {
      runCleanupsSync();
      process.exit(130);
    }
    stopping = true;
    interrupted = true;
    log(`${sig}: stopping servers`);
    const force = setTimeout(() => {
      runCleanupsSync();
      process.exit(130);
    }, 15_000);
    force.unref();
    void runCleanups().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  process.on('exit', runCleanupsSync);
}

/** Runs `main`, always stopping every registered server afterwards; exits non-zero on error. */
export function runMain(main: () => Promise<void>): void {
  main()
    .then(
      () => runCleanups(),
      async (err: unknown) => {
        process.exitCode = 1;
        log(`FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        await runCleanups();
      },
    )
    .catch((err: unknown) => {
      process.exitCode = 1;
      log(`cleanup error: ${String(err)}`);
    });
}

// ---------------------------------------------------------------------------------------------
// Child processes

export interface Server {
  child: ChildProcess;
  exited: Promise<number | null>;
  /** Lines of output seen so far (only when `onLine` watching is used). */
}

/**
 * Starts a long-running server process in its own process group with stdout/stderr appended
 * to `logFile`; `onLine` sees each output line. The process is stopped by `stop()` (which the
 * caller registers with onCleanup).
 */
export function startProcess(cmd: string, args: string[], opts: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string; onLine?: (line: string) => void }): Server {
  const spawnOpts: SpawnOptions = {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // own process group: Ctrl-C in the terminal reaches only us; we stop it in order
  };
  const child = spawn(cmd, args, spawnOpts);
  const out = createWriteStream(opts.logFile, { flags: 'a' });
  let partial = '';
  const feed = (chunk: Buffer) => {
    out.write(chunk);
    if (!opts.onLine) return;
    partial += chunk.toString('utf8');
    let idx: number;
    while ((idx = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, idx);
      partial = partial.slice(idx + 1);
      opts.onLine(line);
    }
    if (partial.length > 1_000_000) partial = '';
  };
  child.stdout?.on('data', feed);
  child.stderr?.on('data', feed);
  const exited = new Promise<number | null>((res) => {
    child.once('exit', (code, signal) => {
      out.end();
      res(code ?? (signal ? 128 : null));
    });
    child.once('error', (err) => {
      out.write(`spawn error: ${String(err)}\n`);
      out.end();
      res(127);
    });
  });
  return { child, exited };
}

/** SIGTERM to the process group, then SIGKILL after `graceMs` if it has not exited. */
export async function stopProcess(server: Server, graceMs = 10_000): Promise<void> {
  const pid = server.child.pid;
  if (pid === undefined || server.child.exitCode !== null || server.child.signalCode !== null) return;
  killGroup(pid, 'SIGTERM');
  const exited = await Promise.race([server.exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!exited) {
    killGroup(pid, 'SIGKILL');
    await Promise.race([server.exited, sleep(2000)]);
  }
}

export function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch (err) {
    // No such group: the process and all it started are gone, and its PID may already belong
    // to something else (PIDs wrap), so do not fall back to killing the PID alone.
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return;
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

/** Runs a command to completion (bounded by `timeoutMs`), returning its output; throws on failure. */
export function run(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      rej(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) res({ stdout, stderr });
      else rej(new Error(`${cmd} ${args.join(' ')} exited ${code ?? signal}: ${(stderr || stdout).trim().slice(0, 2000)}`));
    });
    child.stdin.on('error', () => undefined); // a command that never reads its input
    child.stdin.end(opts.input ?? '');
  });
}

/** Flushes earlier runs' dirty pages so they do not slow the next measurement, then pauses. */
export async function settle(): Promise<void> {
  await run('sync', []).catch(() => undefined);
  await sleep(1000);
}

export function runSyncQuiet(cmd: string, args: string[]): void {
  spawnSync(cmd, args, { stdio: 'ignore', timeout: 15_000 });
}

/** Installs missing Debian packages through bench/lib/ensure-packages.sh. */
export async function ensurePackages(...pkgs: string[]): Promise<void> {
  const script = join(repoRoot(), 'bench', 'lib', 'ensure-packages.sh');
  const child = spawn('bash', [script, ...pkgs], { stdio: ['ignore', 'inherit', 'inherit'] });
  const code = await new Promise<number | null>((res) => {
    child.once('exit', (c) => res(c));
    child.once('error', () => res(127));
  });
  if (code !== 0) throw new Error(`could not install ${pkgs.join(', ')} (ensure-packages.sh exited ${code})`);
}

export function requireRoot(what: string): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error(`${what} must run as root: the peer server's master process needs it`);
  }
}

/**
 * Raises a numeric kernel setting (/proc/sys/NAME) to at least `min`, when it is lower and we
 * may; the old value is put back at cleanup. Never lowers anything.
 */
export async function raiseSysctl(name: string, min: number): Promise<void> {
  const file = join('/proc/sys', name);
  let old: number;
  try {
    old = Number(readFileSync(file, 'utf8').trim());
  } catch {
    return; // not Linux, or not visible here
  }
  if (!(old < min)) return;
  try {
    writeFileSync(file, String(min));
  } catch (err) {
    log(`cannot raise ${name} from ${old} to ${min} (${String(err)}); the peer may run with less than it needs`);
    return;
  }
  log(`raised ${name} from ${old} to ${min} for this run`);
  const restore = () => {
    try {
      writeFileSync(file, String(old));
    } catch {
      // best effort
    }
  };
  onCleanup(`restore ${name}`, async () => restore(), restore);
}

/** uid and gid of an account, via id(1). */
export async function accountIds(user: string): Promise<{ uid: number; gid: number }> {
  const uid = Number((await run('id', ['-u', user])).stdout.trim());
  const gid = Number((await run('id', ['-g', user])).stdout.trim());
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error(`cannot resolve account ${user}`);
  return { uid, gid };
}

export function fmt(n: number, digits = 1): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The p-th percentile (0..100) of an ascending array, nearest-rank; NaN when empty. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Integer option from --flag / env / default, validated to lie in [min, max]. */
export function intOption(value: string | undefined, envName: string, def: number, min: number, max: number): number {
  const raw = value ?? process.env[envName];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) throw new Error(`${envName}/${raw}: expected a number in [${min}, ${max}]`);
  return n;
}
