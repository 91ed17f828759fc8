/**
 * The Wharf the soak runs against: `wharf serve` as a child process with its own data folder,
 * every service on a free loopback port, a raised open-files limit (`ulimit -n`, as a site sets
 * LimitNOFILE= for its service), and its users made straight in the store.
 *
 * Users are made with the store's own addUser and one password hash shared by all of them
 * (one scrypt run instead of thousands through `wharf user add`): the soak is about holding
 * sessions, not about making accounts. Logging in still costs one real scrypt verification per
 * user (then the server's short cache of verified logins), as in production.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hashPassword } from '../../src/auth/password.js';
import { loadConfig } from '../../src/config/load.js';
import { openStore, storeOptions } from '../../src/store/index.js';
import { freePort, log, onCleanup, startProcess, stopProcess, killGroup, waitFor } from '../lib/common.js';
import { wharfCli, wharfMain } from '../lib/wharf.js';

export interface SoakServer {
  pid: number;
  ports: { smtp: number; pop3: number; imap: number; ftp: number; http: number };
  logFile: string;
  exited: () => number | null;
  stop(): Promise<void>;
}

export const PASSWORD = 'soak-password-1';

export function userAddress(i: number, domain: string): string {
  return `user${i}@${domain}`;
}

export async function createUsers(dataDir: string, domain: string, count: number): Promise<void> {
  await wharfCli(dataDir, ['domain', 'add', domain]);
  const config = await loadConfig({ options: { data: dataDir }, env: {} });
  const store = await openStore(storeOptions(config));
  try {
    const passwordHash = await hashPassword(PASSWORD);
    for (let i = 0; i < count; i++) await store.addUser({ address: userAddress(i, domain), passwordHash });
  } finally {
    await store.close();
  }
}

export async function startSoakServer(opts: {
  dir: string;
  dataDir: string;
  openFiles: number;
  config: Record<string, unknown>;
}): Promise<SoakServer> {
  await mkdir(opts.dataDir, { recursive: true });
  const ports = {
    smtp: await freePort(),
    pop3: await freePort(),
    imap: await freePort(),
    ftp: await freePort(),
    http: await freePort(),
  };
  const configFile = join(opts.dir, 'wharf.json');
  await writeFile(configFile, JSON.stringify(opts.config, null, 2));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    WHARF_CONFIG: configFile,
    WHARF_HOST: '127.0.0.1',
    WHARF_HOSTNAME: 'wharf.soak.localhost',
    // Nothing leaves the machine: a closed loopback port answers every DNS query at once.
    WHARF_DNS_SERVERS: '127.0.0.1:9',
    WHARF_SMTP_PORT: String(ports.smtp),
    WHARF_POP3_PORT: String(ports.pop3),
    WHARF_IMAP_PORT: String(ports.imap),
    WHARF_FTP_PORT: String(ports.ftp),
    WHARF_HTTP_PORT: String(ports.http),
    WHARF_SUBMISSION_PORT: '0',
    WHARF_SUBMISSIONS_PORT: '0',
    WHARF_POP3S_PORT: '0',
    WHARF_IMAPS_PORT: '0',
    WHARF_FTPS_PORT: '0',
    WHARF_SFTP_PORT: '0',
    WHARF_LOG_LEVEL: 'warn',
  };
  const logFile = join(opts.dir, 'wharf.log');
  // The shell raises the limit, then becomes the server (exec), so the pid is the server's.
  // Where the hard limit is lower and cannot be raised (not root), the hard limit it is.
  const script = `{ ulimit -n ${opts.openFiles} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; } && exec "$0" "$@"`;
  const server = startProcess('sh', ['-c', script, process.execPath, wharfMain(), 'serve', '--data', opts.dataDir], { logFile, env, cwd: opts.dir });
  const stop = onCleanup(
    'wharf',
    () => stopProcess(server, 30_000),
    () => {
      if (server.child.pid) killGroup(server.child.pid, 'SIGKILL');
    },
  );
  try {
    await waitFor('wharf /readyz', 60_000, async () => {
      if (server.child.exitCode !== null) throw new Error(`wharf serve exited ${server.child.exitCode}; see ${logFile}`);
      const res = await fetch(`http://127.0.0.1:${ports.http}/readyz`).catch(() => null);
      return res?.status === 200;
    }, 250);
  } catch (err) {
    await stop();
    throw err;
  }
  log(`wharf serve pid ${server.child.pid} on ${JSON.stringify(ports)}; log ${logFile}`);
  return { pid: server.child.pid!, ports, logFile, exited: () => server.child.exitCode, stop };
}
