/**
 * The server under fuzz: a real `wharf serve` child process with a temporary data folder,
 * every service on a port the OS picks (learnt from its `listening` log lines), two accounts
 * (one for the fuzzer, one for the well-behaved client, so the fuzzer's failed logins never
 * throttle the client that checks the server still serves), and its RSS and descriptor count
 * read from /proc.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Account, Service } from './session.js';

const WHARF_MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export const DOMAIN = 'wharf.fuzz';
export const FUZZ_ACCOUNT: Account = { user: `fuzz@${DOMAIN}`, pass: 'fuzz-password-1' };
export const GOOD_ACCOUNT: Account = { user: `good@${DOMAIN}`, pass: 'good-password-1' };

const PORT_SETTINGS = ['SMTP', 'SUBMISSION', 'SUBMISSIONS', 'POP3', 'POP3S', 'IMAP', 'IMAPS', 'FTP', 'FTPS', 'SFTP', 'HTTP'];

function baseEnv(dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('WHARF_')) env[k] = v;
  return { ...env, WHARF_DATA: dataDir, ...extra };
}

function cli(dataDir: string, args: string[], input?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, [WHARF_MAIN, ...args], { env: baseEnv(dataDir), timeout: 60_000 }, (err, _out, stderr) =>
      err ? reject(new Error(`wharf ${args.join(' ')}: ${stderr || err.message}`)) : resolve(),
    );
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** The domain and both accounts in a fresh data folder. */
export async function prepareData(dataDir: string): Promise<void> {
  await cli(dataDir, ['domain', 'add', DOMAIN]);
  await Promise.all([FUZZ_ACCOUNT, GOOD_ACCOUNT].map((a) => cli(dataDir, ['user', 'add', a.user, '--password-stdin'], a.pass + '\n')));
}

export interface ServerUnderFuzz {
  pid: number;
  ports: Partial<Record<Service | 'sftp' | 'http', number>>;
  /** Exit code once it has exited; null while it runs. */
  exitCode(): number | null;
  /** The last lines of its output (for a crash report). */
  tail(): string;
  /** Error-level log records so far: a session that failed inside the server, short of a crash. */
  errors(): Record<string, unknown>[];
  stop(): Promise<void>;
}

export async function startServer(dataDir: string, workDir: string): Promise<ServerUnderFuzz> {
  // The fuzzer's logins fail on purpose, often: a short throttle keeps it moving (the
  // well-behaved client logs in as another account and is never throttled).
  const configFile = join(workDir, 'wharf-fuzz.json');
  await writeFile(configFile, JSON.stringify({ authThrottle: { freeFailures: 3, baseDelayMs: 10, maxDelayMs: 50, windowMs: 60_000 } }));
  const env = baseEnv(dataDir, {
    WHARF_CONFIG: configFile,
    WHARF_HOST: '127.0.0.1',
    WHARF_HOSTNAME: 'mx.wharf.fuzz',
    // No DNS query leaves the machine: a closed loopback port answers at once.
    WHARF_DNS_SERVERS: '127.0.0.1:9',
  });
  for (const p of PORT_SETTINGS) env[`WHARF_${p}_PORT`] = '0';
  const child: ChildProcess = spawn(process.execPath, [WHARF_MAIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  // However the fuzzer ends, the server it started ends with it.
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));
  const ports: ServerUnderFuzz['ports'] = {};
  let output = '';
  let partial = '';
  let ready = false;
  const readyWaiters: (() => void)[] = [];
  const errors: Record<string, unknown>[] = [];
  const onLine = (line: string) => {
    try {
      const rec = JSON.parse(line) as { event?: string; service?: string; port?: number; level?: string };
      if (rec.level === 'error' && errors.length < 200) errors.push(rec);
      if (rec.event === 'listening' && rec.service) ports[rec.service as Service] = Number(rec.port);
      if (rec.event === 'ready') {
        ready = true;
        for (const w of readyWaiters.splice(0)) w();
      }
    } catch {
      // not a log record
    }
  };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    output = (output + chunk).slice(-20_000);
    partial += chunk;
    const lines = partial.split('\n');
    partial = lines.pop()!;
    lines.forEach(onLine);
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output = (output + chunk).slice(-20_000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`wharf serve did not get ready: ${output.slice(-2000)}`)), 60_000);
    readyWaiters.push(() => {
      clearTimeout(timer);
      resolve();
    });
    void exited.then(() => {
      clearTimeout(timer);
      if (!ready) reject(new Error(`wharf serve exited at start: ${output.slice(-2000)}`));
    });
  });
  return {
    pid: child.pid!,
    ports,
    exitCode: () => (child.exitCode !== null ? child.exitCode : child.signalCode !== null ? 128 : null),
    tail: () => output.slice(-4000),
    errors: () => errors,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(t);
    },
  };
}

export interface ProcessFigures {
  rssBytes: number;
  openFds: number;
}

export async function processFigures(pid: number): Promise<ProcessFigures> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKiB = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  return { rssBytes: rssKiB * 1024, openFds: (await readdir(`/proc/${pid}/fd`)).length };
}
