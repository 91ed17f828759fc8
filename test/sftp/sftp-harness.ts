/**
 * Shared steps of the SFTP tests: a server with a user made by the CLI, OpenSSH's sftp in
 * batch mode (password through sshpass, or a key), and the ssh2 npm client with promises.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import ssh2 from 'ssh2';
import type { ConnectConfig, SFTPWrapper } from 'ssh2';
import { runProgram, type ProgramResult } from '../helpers/process.js';
import type { WharfProcess } from '../helpers/wharf.js';

export const USER = 'bob@hamburger.edu';
export const PASSWORD = 'hungry-for-files';

export async function addUser(wharf: WharfProcess, address = USER, password = PASSWORD): Promise<void> {
  const domain = address.split('@')[1];
  const d = await wharf.cli(['domain', 'add', domain]);
  assert.ok(d.code === 0 || /exists/.test(d.stderr), d.stderr);
  const u = await wharf.cli(['user', 'add', address, '--password-stdin'], `${password}\n`);
  assert.equal(u.code, 0, u.stderr);
}

const SSH_OPTIONS = ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=30'];

/**
 * Runs OpenSSH's sftp with `commands` as its batch file. -b turns BatchMode on, which would
 * forbid the password prompt sshpass answers, so it is turned back off for password logins.
 */
export async function sftpBatch(
  port: number,
  dir: string,
  commands: string[],
  auth: { password: string } | { keyFile: string },
  user = USER,
): Promise<ProgramResult> {
  const batch = path.join(dir, `batch-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  await writeFile(batch, commands.join('\n') + '\n');
  const common = ['-b', batch, '-P', String(port), ...SSH_OPTIONS];
  if ('password' in auth) {
    return runProgram(
      'sshpass',
      ['-p', auth.password, 'sftp', '-o', 'BatchMode=no', '-o', 'PreferredAuthentications=password', '-o', 'PubkeyAuthentication=no', ...common, `${user}@127.0.0.1`],
      { timeoutMs: 120_000 },
    );
  }
  return runProgram(
    'sftp',
    ['-i', auth.keyFile, '-o', 'IdentitiesOnly=yes', '-o', 'PreferredAuthentications=publickey', ...common, `${user}@127.0.0.1`],
    { timeoutMs: 120_000 },
  );
}

/**
 * Runs OpenSSH's scp with a password (`args` are its sources and target, `-r` and the like;
 * `REMOTE:` stands for the user at the server). Since OpenSSH 9.0 scp speaks SFTP.
 */
export function scp(port: number, args: string[], password = PASSWORD, user = USER): Promise<ProgramResult> {
  const remote = `${user}@127.0.0.1:`;
  return runProgram(
    'sshpass',
    ['-p', password, 'scp', '-o', 'BatchMode=no', '-o', 'PreferredAuthentications=password', '-o', 'PubkeyAuthentication=no', '-P', String(port), ...SSH_OPTIONS, ...args.map((a) => a.replace(/^REMOTE:/, remote))],
    { timeoutMs: 120_000 },
  );
}

/** An ssh2 client connection and its SFTP channel, with promise-returning operations. */
export interface Ssh2Sftp {
  client: ssh2.Client;
  sftp: SFTPWrapper;
  end(): void;
}

export function connectSsh(port: number, config: Partial<ConnectConfig> = {}): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    client.on('ready', () => resolve(client));
    client.on('error', reject);
    client.connect({ host: '127.0.0.1', port, username: USER, password: PASSWORD, readyTimeout: 60_000, ...config });
  });
}

export async function openSftp(port: number, config: Partial<ConnectConfig> = {}): Promise<Ssh2Sftp> {
  const client = await connectSsh(port, config);
  const sftp = await new Promise<SFTPWrapper>((resolve, reject) => client.sftp((err, s) => (err ? reject(err) : resolve(s))));
  return { client, sftp, end: () => client.end() };
}

/** Calls an ssh2 SFTP method and resolves with its result or the status code it failed with. */
export function call<T = unknown>(fn: (cb: (err: Error | null | undefined, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value as T))));
}

/** The SFTP status code and message a failed call got. */
export async function failure(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (err) {
    return { code: (err as { code: number }).code, message: (err as Error).message };
  }
  assert.fail('the request succeeded');
}

export const STATUS = { OK: 0, EOF: 1, NO_SUCH_FILE: 2, PERMISSION_DENIED: 3, FAILURE: 4, BAD_MESSAGE: 5, OP_UNSUPPORTED: 8 };
