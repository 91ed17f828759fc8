/**
 * Wharf for benchmarking: the built server (dist/src/cli/main.js) with a fresh data directory,
 * every service on a free loopback port, and the benchmark's domain and users created with the
 * admin CLI.
 */
import { existsSync } from 'node:fs';
import { SERVE_NODE_OPTIONS } from '../../src/cli/heap.js';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Pop3Connection } from './pop3-client.js';
import { canConnect, freePort, log, onCleanup, repoRoot, run, startProcess, stopProcess, waitFor, killGroup, LOOPBACK } from './common.js';

export interface WharfInstance {
  /** The loopback address every service listens on (WHARF_HOST). */
  host: string;
  smtpPort: number;
  /** The submission port (0 unless started with `submission`). */
  submissionPort: number;
  pop3Port: number;
  /** The IMAP port (0 unless started with `imap`). */
  imapPort: number;
  /** The server process (one Node.js process). */
  pid: number;
  dataDir: string;
  logFile: string;
  stop(): Promise<void>;
}

const OTHER_PORTS = [
  'WHARF_SUBMISSIONS_PORT',
  'WHARF_POP3S_PORT',
  'WHARF_IMAPS_PORT',
  'WHARF_FTP_PORT',
  'WHARF_FTPS_PORT',
  'WHARF_SFTP_PORT',
  'WHARF_HTTP_PORT',
];

export function wharfMain(): string {
  const main = join(repoRoot(), 'dist', 'src', 'cli', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} not found: build Wharf first (npm run build)`);
  return main;
}

/** Where startWharf keeps the data of a server started with `dir`. */
export function wharfDataDir(dir: string): string {
  return join(dir, 'data');
}

/** Runs the admin CLI, `wharf ARGS --data DATADIR`, to completion; resolves with its output. */
export function wharfCli(dataDir: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [wharfMain(), ...args, '--data', dataDir], { input: opts.input, timeoutMs: 60_000, env: { ...process.env, ...opts.env } });
}

export async function startWharf(opts: {
  dir: string;
  domain: string;
  users: { address: string; password: string }[];
  /** Serve IMAP on a free loopback port too, and wait for it to listen. */
  imap?: boolean;
  /** Settings for a config file (e.g. connection limits for thousands of sessions from one address). */
  config?: Record<string, unknown>;
  /** A PostgreSQL store (WHARF_DATABASE_URL) instead of SQLite in the data directory. */
  databaseUrl?: string;
  /** Create the domain and users (default); false for a further node on a store already set up. */
  seed?: boolean;
  /** The node's id in its logs (WHARF_NODE_ID). */
  nodeId?: string;
  /** Loopback address for every service (WHARF_HOST; default 127.0.0.1), e.g. 127.0.0.2 for a second host. */
  host?: string;
  /** WHARF_HOSTNAME (its greeting and Received lines; default wharf.bench.localhost). */
  hostname?: string;
  /** A fixed SMTP (MX) port, e.g. the same number on two hosts; a free one otherwise. */
  smtpPort?: number;
  /** Serve submission (AUTH) on a free port too, and wait for it to listen. */
  submission?: boolean;
  /** Further WHARF_* settings (e.g. WHARF_DNS_SERVERS, WHARF_DELIVERY_PORT). */
  env?: Record<string, string>;
}): Promise<WharfInstance> {
  const main = wharfMain();
  const dataDir = wharfDataDir(opts.dir);
  await mkdir(dataDir, { recursive: true });
  const storeEnv: NodeJS.ProcessEnv = opts.databaseUrl ? { WHARF_DATABASE_URL: opts.databaseUrl } : {};
  const cli = (args: string[], input?: string) => wharfCli(dataDir, args, { input, env: storeEnv });

  if (opts.seed !== false) {
    await cli(['domain', 'add', opts.domain]);
    for (const u of opts.users) await cli(['user', 'add', u.address, '--password-stdin'], u.password + '\n');
  }

  const host = opts.host ?? LOOPBACK;
  const smtpPort = opts.smtpPort ?? (await freePort(host));
  const pop3Port = await freePort(host);
  const imapPort = opts.imap ? await freePort(host) : 0;
  const submissionPort = opts.submission ? await freePort(host) : 0;
  const configFile = join(opts.dir, 'wharf.json');
  if (opts.config) await writeFile(configFile, JSON.stringify(opts.config));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...(opts.config ? { WHARF_CONFIG: configFile } : {}),
    ...storeEnv,
    ...(opts.nodeId ? { WHARF_NODE_ID: opts.nodeId } : {}),
    WHARF_HOST: host,
    WHARF_HOSTNAME: opts.hostname ?? 'wharf.bench.localhost',
    WHARF_SMTP_PORT: String(smtpPort),
    WHARF_POP3_PORT: String(pop3Port),
    WHARF_IMAP_PORT: String(imapPort), // 0 (ephemeral) unless IMAP is wanted
    WHARF_SUBMISSION_PORT: String(submissionPort), // likewise
  };
  for (const name of OTHER_PORTS) env[name] = '0'; // ephemeral: never clashes with anything
  Object.assign(env, opts.env);
  const logFile = join(opts.dir, 'wharf.log');
  const listening: string[] = [];
  // As `npm start` runs it (SERVE_NODE_OPTIONS), then whatever the bench run adds.
  const nodeArgs = [...SERVE_NODE_OPTIONS, ...(process.env.BENCH_WHARF_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  const server = startProcess(process.execPath, [...nodeArgs, main, 'serve', '--data', dataDir], {
    logFile,
    env,
    cwd: opts.dir,
    onLine: (line) => {
      if (!line.includes('"listening"')) return;
      try {
        const ev = JSON.parse(line) as { event?: string; service?: string; port?: number };
        if (ev.event === 'listening') listening.push(`${ev.service}:${ev.port}`);
      } catch {
        // not JSON; ignore
      }
    },
  });
  const stop = onCleanup(
    'wharf',
    () => stopProcess(server),
    () => {
      if (server.child.pid) killGroup(server.child.pid, 'SIGKILL');
    },
  );
  try {
    await waitFor(`Wharf SMTP and POP3 on ${host}:${smtpPort}/${pop3Port}`, 60_000, async () => {
      if (server.child.exitCode !== null) throw new Error(`wharf serve exited ${server.child.exitCode}; see ${logFile}`);
      return (await canConnect(smtpPort, 500, host)) && (await canConnect(pop3Port, 500, host));
    });
    for (const [what, port, setting] of [
      ['IMAP', imapPort, 'WHARF_IMAP_PORT'],
      ['submission', submissionPort, 'WHARF_SUBMISSION_PORT'],
    ] as const) {
      if (!port) continue;
      await waitFor(`Wharf ${what} on ${host}:${port} (${setting})`, 15_000, async () => {
        if (server.child.exitCode !== null) throw new Error(`wharf serve exited ${server.child.exitCode}; see ${logFile}`);
        return canConnect(port, 500, host);
      });
    }
  } catch (err) {
    await stop();
    throw err;
  }
  log(`Wharf listening (${listening.join(', ') || `smtp:${smtpPort}, pop3:${pop3Port}`}); data ${dataDir}`);
  return { host, smtpPort, submissionPort, pop3Port, imapPort, pid: server.child.pid!, dataDir, logFile, stop };
}

/** Total messages in the users' Wharf mailboxes, by POP3 STAT (any node of a shared store will do). */
export async function countMailboxMessages(pop3Port: number, users: { address: string; password: string }[], host = LOOPBACK): Promise<number> {
  let total = 0;
  for (const u of users) {
    const c = await Pop3Connection.open(host, pop3Port);
    try {
      await c.greeting();
      await c.login(u.address, u.password);
      total += (await c.stat()).count;
    } finally {
      await c.quit();
    }
  }
  return total;
}
