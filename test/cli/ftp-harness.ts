/**
 * Shared set-up of the `wharf ftp` tests: a real `wharf serve` (FTP, FTPS and SFTP on ports
 * the OS chose) with one user made through the admin CLI, a scratch folder, and `wharf ftp`
 * run as a person would, the password piped in with --password-stdin.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeTempDir, removeDir, runWharf, type CliResult } from '../helpers/cli.js';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';

export const USER = 'carla@hamburger.edu';
/** In URLs the "@" of the login is written %40. */
export const USER_IN_URL = 'carla%40hamburger.edu';
export const PASSWORD = 'ship-the-crates-42';

export interface FtpTestServer {
  wharf: WharfProcess;
  dir: string;
  /** `wharf ftp ARGS` with the password on standard input. */
  ftp(args: string[], stdin?: string): Promise<CliResult>;
  /** A file of `size` random bytes in the scratch folder; returns its path. */
  makeFile(name: string, size: number): Promise<string>;
  url(scheme: 'ftp' | 'ftps' | 'sftp', remotePath?: string): string;
  close(): Promise<void>;
}

/** `services`: the ports the tests need (each must be reported by `wharf serve`). */
export async function startFtpTestServer(services: ('ftp' | 'ftps' | 'sftp')[]): Promise<FtpTestServer> {
  const wharf = await startWharf();
  const dir = await makeTempDir('wharf-ftp-client-');
  try {
    const domain = await wharf.cli(['domain', 'add', 'hamburger.edu']);
    assert.equal(domain.code, 0, domain.stderr);
    const user = await wharf.cli(['user', 'add', USER, '--password-stdin'], `${PASSWORD}\n`);
    assert.equal(user.code, 0, user.stderr);
    for (const service of services) assert.ok(wharf.ports[service], `wharf serve reported no ${service} port: ${wharf.logs().join('\n')}`);
  } catch (err) {
    await wharf.stop();
    await wharf.removeData();
    await removeDir(dir);
    throw err;
  }
  const ports = { ftp: wharf.ports.ftp, ftps: wharf.ports.ftps, sftp: wharf.ports.sftp };
  return {
    wharf,
    dir,
    // Generous: the machine running the suite may be busy.
    ftp: (args, stdin = `${PASSWORD}\n`) => runWharf(['ftp', ...args], { stdin, timeoutMs: 120_000 }),
    async makeFile(name, size) {
      const file = path.join(dir, name);
      await writeFile(file, randomBytes(size));
      return file;
    },
    url: (scheme, remotePath = '') => `${scheme}://${USER_IN_URL}@127.0.0.1:${ports[scheme]}/${remotePath}`,
    async close() {
      await wharf.stop();
      await wharf.removeData();
      await removeDir(dir);
    },
  };
}

export async function sha256(file: string): Promise<string> {
  return createHash('sha256').update(await readFile(file)).digest('hex');
}

/** Nothing the command printed contains the password. */
export function assertNoPassword(r: CliResult): void {
  assert.ok(!r.stdout.includes(PASSWORD) && !r.stderr.includes(PASSWORD), 'the password was printed');
}
