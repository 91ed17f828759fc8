/**
 * Runs a real `wharf serve` process for end-to-end tests: a temporary data folder, every port
 * chosen by the OS (all WHARF_*_PORT set to 0), and the ports learnt from the JSON
 * `listening` log lines the server prints.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { ENV_SETTINGS } from '../../src/config/load.js';
import { cleanEnv, makeTempDir, removeDir, runWharf, WHARF_MAIN, type CliResult } from './cli.js';
import { dropProcessStore, processStoreEnv } from './test-store.js';

export type LogRecord = Record<string, unknown> & { event?: string; level?: string };

export interface WharfOptions {
  /** Extra environment (overrides the defaults set here, e.g. WHARF_CONFIG). */
  env?: Record<string, string>;
  /** Reuse a data folder (to restart on the same data); a fresh temporary one otherwise. */
  dataDir?: string;
  /** Serve the data folder's SQLite store even when the tests run on PostgreSQL (e.g. a copy made into a folder). */
  sqlite?: boolean;
  /** How long to wait for the server to report `ready`. */
  readyTimeoutMs?: number;
  /**
   * A program that runs wharf, followed by its arguments (e.g. a fault injector or a tracer
   * that takes the command to run): `[...wrapper, node, main.js, 'serve']`.
   */
  wrapper?: string[];
}

export interface WharfProcess {
  /** Service name → port, from the `listening` log lines. */
  ports: Record<string, number>;
  dataDir: string;
  pid: number;
  /** Runs `wharf <args>` against the same data folder. */
  cli(args: string[], stdin?: string): Promise<CliResult>;
  /** Every line the server printed on standard output so far. */
  logs(): string[];
  /** Everything it printed on standard error so far. */
  stderr(): string;
  /** Resolves with the first log record (past or future) that matches. */
  waitForLog(predicate: (record: LogRecord) => boolean, timeoutMs?: number): Promise<LogRecord>;
  /** Sends the signal (SIGTERM by default) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number>;
  /** Resolves with the exit code whenever the process ends. */
  exited: Promise<number>;
  /** True while the process runs. */
  alive(): boolean;
  /** Deletes the data folder if this harness created it. */
  removeData(): Promise<void>;
}

const running = new Set<ChildProcess>();
// A failed test must not leave servers running (they would keep the test runner alive).
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0);
}

export async function startWharf(opts: WharfOptions = {}): Promise<WharfProcess> {
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await makeTempDir('wharf-data-'));
  const portEnv: Record<string, string> = {};
  for (const s of ENV_SETTINGS) if (s.numeric && s.path.startsWith('ports.')) portEnv[s.name] = '0';
  // The store: the caller's database, the folder's own, or the test backend's for this data folder.
  const storeEnv: Record<string, string> = opts.env?.WHARF_DATABASE_URL
    ? { WHARF_DATABASE_URL: opts.env.WHARF_DATABASE_URL }
    : opts.sqlite
      ? {}
      : await processStoreEnv(dataDir);
  // No DNS query leaves the machine unless a test brings its own server (WHARF_DNS_SERVERS in
  // opts.env): a closed loopback port answers every lookup at once with an error (SPF/DKIM/DMARC
  // then give temperror and mail is accepted).
  const dnsEnv = { WHARF_DNS_SERVERS: '127.0.0.1:9' };
  const env = cleanEnv({ ...portEnv, WHARF_HOST: '127.0.0.1', WHARF_DATA: dataDir, ...dnsEnv, ...storeEnv, ...opts.env });

  const command = [...(opts.wrapper ?? []), process.execPath, WHARF_MAIN, 'serve'];
  const child = spawn(command[0]!, command.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const lines: string[] = [];
  const records: LogRecord[] = [];
  const watchers = new Set<{ predicate: (r: LogRecord) => boolean; resolve: (r: LogRecord) => void }>();
  const ports: Record<string, number> = {};
  let stderr = '';
  let partial = '';

  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    partial += chunk;
    const parts = partial.split('\n');
    partial = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      let record: LogRecord;
      try {
        record = JSON.parse(line) as LogRecord;
      } catch {
        continue;
      }
      records.push(record);
      if (record.event === 'listening' && typeof record.service === 'string') {
        ports[record.service] = Number(record.port);
      }
      for (const w of [...watchers]) {
        if (w.predicate(record)) {
          watchers.delete(w);
          w.resolve(record);
        }
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));

  const exited = new Promise<number>((resolve) => {
    child.on('exit', (code, signal) => {
      running.delete(child);
      resolve(exitCodeOf(code, signal));
    });
  });

  const waitForLog = (predicate: (r: LogRecord) => boolean, timeoutMs = 15_000): Promise<LogRecord> => {
    const seen = records.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const watcher = {
        predicate,
        resolve: (r: LogRecord) => {
          clearTimeout(timer);
          resolve(r);
        },
      };
      const timer = setTimeout(() => {
        watchers.delete(watcher);
        reject(new Error(`log line not seen within ${timeoutMs} ms; stderr: ${stderr}`));
      }, timeoutMs);
      watchers.add(watcher);
      void exited.then((code) => {
        if (!watchers.has(watcher)) return;
        watchers.delete(watcher);
        clearTimeout(timer);
        reject(new Error(`wharf serve exited with code ${code} before the log line; stderr: ${stderr}`));
      });
    });
  };

  try {
    await waitForLog((r) => r.event === 'ready', opts.readyTimeoutMs ?? 20_000);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    if (ownDir) {
      await removeDir(dataDir);
      await dropProcessStore(dataDir);
    }
    throw err;
  }

  return {
    ports,
    dataDir,
    pid: child.pid!,
    // The CLI opens the same store: the data folder, or the node's PostgreSQL database.
    cli: (args, stdin) => runWharf(args, { stdin, env: cleanEnv({ WHARF_DATA: dataDir, ...storeEnv }) }),
    logs: () => [...lines],
    stderr: () => stderr,
    waitForLog,
    exited,
    alive: () => child.exitCode === null && child.signalCode === null,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`wharf serve did not exit within 30 s of ${signal}`));
        }, 30_000);
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    async removeData() {
      if (!ownDir) return;
      await removeDir(dataDir);
      await dropProcessStore(dataDir);
    },
  };
}
