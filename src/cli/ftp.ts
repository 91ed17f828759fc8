/**
 * `wharf ftp ls|get|put`: a file-transfer client for FTP (with AUTH TLS when the server
 * offers it), FTPS (implicit TLS) and SFTP, chosen by the URL's scheme. The password comes
 * from a prompt or standard input, never the command line; certificates and host keys are
 * checked unless --insecure. --resume continues an interrupted transfer where it stopped
 * (REST/APPE for FTP, offsets for SFTP). Files are streamed, never held in memory; a progress
 * bar goes to standard error when it is a terminal. Exit codes: 0 done, 1 the transfer or
 * the server failed (with the server's message), 2 usage.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { FtpClientError, type FtpTlsMode } from '../ftp/client/index.js';
import { tlsOptions } from '../queue/tls-policy.js';
import { readCaOption } from './common.js';
import { CliError, UsageError } from './errors.js';
import { connectFtp, ftpFailure } from './ftp/ftp-remote.js';
import { formatBytes, ProgressBar } from './ftp/progress.js';
import type { RemoteEntry, RemoteFiles } from './ftp/remote.js';
import { connectSftp } from './ftp/sftp-client.js';
import { baseName, parseRemoteUrl, type RemoteUrl } from './ftp/url.js';
import { readLoginPassword } from './password-input.js';

interface FtpCommandOptions {
  user?: string;
  passwordStdin?: boolean;
  insecure?: boolean;
  ca?: string;
  hostKey?: string;
  resume?: boolean;
  /** false with --no-tls. */
  tls?: boolean;
  verbose?: boolean;
  timeout?: string;
}

/** Logins that need no password of their own (RFC 1635): the password is a courtesy string. */
const ANONYMOUS = new Set(['anonymous', 'ftp']);

function transferOptions(command: Command, resume: boolean): Command {
  command
    .option('--user <login>', 'log in as this user (default: the user in the URL)')
    .option('--password-stdin', 'read the password from the first line of standard input instead of prompting')
    .option('-k, --insecure', 'do not check the server\'s certificate or SSH host key')
    .option('--ca <file>', 'also trust the CA certificates in this PEM file (FTPS)')
    .option('--host-key <fingerprint>', 'accept this SSH host key (SHA256:..., as ssh-keygen -lf prints it)')
    .option('--no-tls', 'ftp://: do not ask for TLS even when the server offers it')
    .option('--timeout <seconds>', 'time limit for connecting, for each reply and for a stalled transfer (default: 60)')
    .option('--verbose', 'print the dialogue on standard error (the password masked)');
  if (resume) command.option('-C, --resume', 'continue an interrupted transfer from where it stopped');
  return command;
}

export function registerFtpCommands(program: Command): void {
  const ftp = program
    .command('ftp')
    .description('transfer files with an FTP, FTPS or SFTP server (ftp://, ftps://, sftp:// URLs)');
  transferOptions(ftp.command('ls').argument('<url>', 'directory to list, e.g. sftp://alice%40example.com@host/docs/'), false)
    .description('list a directory')
    .action(async (url: string, options: FtpCommandOptions) => runLs(url, options));
  transferOptions(ftp.command('get').argument('<url>', 'file to download').argument('[local]', 'where to save it (default: its name, in the current directory; - for standard output)'), true)
    .description('download a file')
    .action(async (url: string, local: string | undefined, options: FtpCommandOptions) => runGet(url, local, options));
  transferOptions(ftp.command('put').argument('<local>', 'file to upload').argument('<url>', 'where to put it (ending in / to keep its name)'), true)
    .description('upload a file')
    .action(async (local: string, url: string, options: FtpCommandOptions) => runPut(local, url, options));
}

function timeoutOf(options: FtpCommandOptions): number {
  const ms = Number(options.timeout ?? '60') * 1000;
  if (!Number.isFinite(ms) || ms <= 0) throw new UsageError('--timeout must be a positive number of seconds');
  return ms;
}

/** Checks the options, asks for the password (SFTP: after the host key is accepted) and connects. */
async function connect(url: RemoteUrl, options: FtpCommandOptions): Promise<RemoteFiles> {
  const timeoutMs = timeoutOf(options);
  const user = options.user ?? url.user;
  if (!user) throw new UsageError('no user: put it in the URL (ftp://user@host/, "@" in a user name as %40) or give --user');
  if (options.hostKey !== undefined && !/^SHA256:[A-Za-z0-9+/]{43}=?$/.test(options.hostKey)) {
    throw new UsageError('--host-key takes a SHA256 fingerprint: SHA256: followed by 43 base64 characters');
  }
  const trace = options.verbose ? (direction: string, text: string) => process.stderr.write(`${direction}: ${text}\n`) : undefined;
  const anonymous = url.scheme !== 'sftp' && ANONYMOUS.has(user.toLowerCase()) && !options.passwordStdin;
  if (url.scheme === 'sftp') {
    if (options.tls === false) throw new UsageError('--no-tls is for ftp:// URLs');
    return connectSftp({
      host: url.host,
      port: url.port,
      user,
      password: () => readLoginPassword(`${user}@${url.host}`, Boolean(options.passwordStdin)),
      hostKey: options.hostKey ?? null,
      insecure: Boolean(options.insecure),
      timeoutMs,
      // ssh2's limit runs until the login is done, so a prompt must not eat it up.
      loginTimeoutMs: options.passwordStdin ? timeoutMs : Math.max(timeoutMs, 5 * 60_000),
      note: trace ? (text) => trace('*', text) : undefined,
    });
  }
  const ca = await readCaOption(options.ca);
  const mode: FtpTlsMode = url.scheme === 'ftps' ? 'implicit' : options.tls === false ? 'off' : 'if-offered';
  if (url.scheme === 'ftps' && options.tls === false) throw new UsageError('--no-tls contradicts ftps:// (use ftp://)');
  const password = anonymous ? 'anonymous@' : await readLoginPassword(`${user}@${url.host}`, Boolean(options.passwordStdin));
  try {
    return await connectFtp({
      host: url.host,
      port: url.port,
      user,
      password,
      tls: mode,
      tlsOptions: tlsOptions(!options.insecure, ca),
      timeoutMs,
      trace,
      onPlaintext: (reason) => process.stderr.write(`wharf: warning: ${reason}; the password and the files travel unencrypted\n`),
    });
  } catch (err) {
    throw err instanceof FtpClientError ? ftpFailure(err) : err;
  }
}

/** Connects, runs `body`, and always says goodbye; FTP errors become one-line messages. */
async function withRemote<T>(url: RemoteUrl, options: FtpCommandOptions, body: (files: RemoteFiles) => Promise<T>): Promise<T> {
  const files = await connect(url, options);
  try {
    return await body(files);
  } catch (err) {
    throw err instanceof FtpClientError ? ftpFailure(err) : err;
  } finally {
    await files.close();
  }
}

async function runLs(urlText: string, options: FtpCommandOptions): Promise<void> {
  const url = parseRemoteUrl(urlText);
  const listing = await withRemote(url, options, (files) => files.list(url.path));
  let out = '';
  if (listing.length > 0 && typeof listing[0] === 'string') {
    for (const line of listing as string[]) out += line + '\n';
  } else {
    const entries = [...(listing as RemoteEntry[])].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) out += formatEntry(e) + '\n';
  }
  process.stdout.write(out);
}

/** "d           -  2026-12-02 05:30  docs/" or "-        1234  2026-12-02 05:30  report.pdf". */
function formatEntry(e: RemoteEntry): string {
  const when = e.modified ? e.modified.toISOString().slice(0, 16).replace('T', ' ') : '????-??-?? ??:??';
  const size = e.directory || e.size === null ? '-' : String(e.size);
  return `${e.directory ? 'd' : '-'} ${size.padStart(12)}  ${when}  ${e.name}${e.directory ? '/' : ''}`;
}

async function localSize(file: string): Promise<number | null> {
  try {
    const st = await stat(file);
    return st.isFile() ? st.size : null;
  } catch {
    return null;
  }
}

async function runGet(urlText: string, localArg: string | undefined, options: FtpCommandOptions): Promise<void> {
  const url = parseRemoteUrl(urlText);
  const name = baseName(url.path);
  if (url.isDirectory || !name) throw new UsageError('the URL names a directory: give a file (use `wharf ftp ls` to list it)');
  const toStdout = localArg === '-';
  let local = localArg ?? name;
  if (!toStdout && (await stat(local).catch(() => null))?.isDirectory()) local = path.join(local, name);
  if (toStdout && options.resume) throw new UsageError('--resume needs a local file, not standard output');
  const have = options.resume ? ((await localSize(local)) ?? 0) : 0;

  await withRemote(url, options, async (files) => {
    const total = await files.size(url.path);
    if (total !== null && have > total) throw new CliError(`${local} (${have} bytes) is larger than ${url.path} (${total} bytes): not resuming`);
    if (total !== null && have === total && options.resume) {
      process.stderr.write(`wharf: ${local} is already complete (${formatBytes(total)})\n`);
      return;
    }
    const bar = ProgressBar.forStderr(name, total, have);
    try {
      // The local file is opened only once the server has started sending, so a refused
      // download leaves an existing file alone.
      await files.download(url.path, have, async (data) => {
        const out: Writable = toStdout ? process.stdout : createWriteStream(local, { flags: have > 0 ? 'r+' : 'w', start: have, flush: true });
        await pipeline(data, bar.counter(), out);
      });
    } catch (err) {
      bar.abandon();
      throw err;
    }
    bar.finish();
    if (!toStdout && total !== null) {
      const got = await localSize(local);
      if (got !== total) throw new CliError(`transfer incomplete: ${local} has ${got} bytes, the server announced ${total}`);
    }
  });
}

async function runPut(local: string, urlText: string, options: FtpCommandOptions): Promise<void> {
  const url = parseRemoteUrl(urlText);
  const size = await localSize(local);
  if (size === null) throw new UsageError(`cannot read ${local}: not a file`);
  const remotePath = url.isDirectory ? `${url.path}${path.basename(local)}` : url.path;

  await withRemote(url, options, async (files) => {
    let offset = 0;
    if (options.resume) {
      offset = (await files.size(remotePath)) ?? 0;
      if (offset > size) throw new CliError(`${remotePath} on the server (${offset} bytes) is larger than ${local} (${size} bytes): not resuming`);
      if (offset === size) {
        process.stderr.write(`wharf: ${remotePath} is already complete on the server (${formatBytes(size)})\n`);
        return;
      }
    }
    const bar = ProgressBar.forStderr(path.basename(local), size, offset);
    try {
      await files.upload(remotePath, offset, (out) => pipeline(createReadStream(local, { start: offset }), bar.counter(), out));
    } catch (err) {
      bar.abandon();
      throw err;
    }
    bar.finish();
    // The server's own count is the proof that nothing went missing (resume included).
    const stored = await files.size(remotePath).catch(() => null);
    if (stored !== null && stored !== size) throw new CliError(`transfer incomplete: the server has ${stored} bytes of ${remotePath}, ${local} has ${size}`);
  });
}
