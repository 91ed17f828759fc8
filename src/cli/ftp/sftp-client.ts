/**
 * SFTP for `wharf ftp`: ssh2 is the SSH transport (host key, encryption, password login) and
 * its SFTP channel the request layer; the transfers here use explicit offsets (OPEN, then
 * READ/WRITE at positions), several requests in flight so a round trip per 32 KiB does not
 * set the pace, which is also what makes resuming a transfer a matter of starting at an offset.
 *
 * The server's host key is checked against `--host-key SHA256:...` (the fingerprint
 * `ssh-keygen -lf` prints); with neither that nor --insecure the connection is refused and
 * the fingerprint shown, so the person can check it and pass it next time.
 */
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { Client, type SFTPWrapper } from 'ssh2';
import { CliError } from '../errors.js';
import type { RemoteEntry, RemoteFiles } from './remote.js';

/** Bytes per READ/WRITE request at most (the size every SFTP server accepts) and requests in flight. */
const CHUNK = 32 * 1024;
const IN_FLIGHT = 16;
/** File type bits of the SFTP mode attribute (as in stat(2)). */
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;

export interface SftpConnectOptions {
  host: string;
  port: number;
  user: string;
  /** Asked for only once the host key has been accepted. */
  password: () => Promise<string>;
  /** "SHA256:base64" to accept, or null with `insecure`. */
  hostKey: string | null;
  insecure: boolean;
  timeoutMs: number;
  /** Time until logged in; longer than `timeoutMs` when a person types the password. */
  loginTimeoutMs?: number;
  note?: (text: string) => void;
}

/** The OpenSSH-style fingerprint of a host key blob. */
export function hostKeyFingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

export async function connectSftp(opts: SftpConnectOptions): Promise<RemoteFiles> {
  const client = new Client();
  let fingerprint = '';
  let keyRejected = false;
  let passwordTried = false;
  let passwordError: unknown = null;
  const sftp = await new Promise<SFTPWrapper>((resolve, reject) => {
    client.once('ready', () => {
      opts.note?.(`logged in as ${opts.user}`);
      client.sftp((err, channel) => (err ? reject(new CliError(`the server refused SFTP: ${err.message}`)) : resolve(channel)));
    });
    client.once('error', (err: Error & { level?: string }) => {
      if (keyRejected) {
        reject(new CliError(`the host key of ${opts.host} is ${fingerprint}${opts.hostKey ? `, not ${opts.hostKey}` : ''}; if that is the server's key, pass --host-key ${fingerprint} (or --insecure)`));
      } else if (passwordError) {
        reject(passwordError);
      } else if (err.level === 'client-authentication') {
        reject(new CliError(`login refused: the server did not accept the password for ${opts.user}`));
      } else if (err.level === 'client-timeout') {
        reject(new CliError(`no SSH login to ${opts.host} port ${opts.port} within ${Math.round((opts.loginTimeoutMs ?? opts.timeoutMs) / 1000)} s`));
      } else {
        reject(new CliError(`SSH connection to ${opts.host} port ${opts.port} failed: ${err.message}`));
      }
    });
    client.connect({
      host: opts.host,
      port: opts.port,
      username: opts.user,
      readyTimeout: opts.loginTimeoutMs ?? opts.timeoutMs,
      hostVerifier: (key: Buffer) => {
        fingerprint = hostKeyFingerprint(key);
        const accepted = opts.insecure || (opts.hostKey !== null && opts.hostKey.replace(/=+$/, '') === fingerprint);
        opts.note?.(`host key ${fingerprint}${accepted ? (opts.insecure && !opts.hostKey ? ' (not checked: --insecure)' : ' (matches --host-key)') : ' (refused)'}`);
        keyRejected = !accepted;
        return accepted;
      },
      // The password is asked for after the host key check, and tried once.
      authHandler: (_methods, _partial, next) => {
        if (passwordTried) return next(false as never);
        passwordTried = true;
        opts.password().then(
          (password) => next({ type: 'password', username: opts.user, password }),
          (err) => {
            passwordError = err;
            next(false as never);
          },
        );
      },
    });
  });
  return new SftpRemote(client, sftp);
}

/**
 * The largest READ or WRITE that goes out as one request. ssh2 splits a larger one and sends
 * the rest only after the first part's reply, which would put our pipelined requests out of
 * order; some servers (Wharf among them) want the writes of a file in order.
 */
function requestSize(sftp: SFTPWrapper, which: '_maxWriteLen' | '_maxReadLen'): number {
  const limit = (sftp as unknown as Record<string, unknown>)[which];
  return typeof limit === 'number' && limit > 0 ? Math.min(CHUNK, limit) : 16 * 1024;
}

class SftpRemote implements RemoteFiles {
  constructor(
    private readonly client: Client,
    private readonly sftp: SFTPWrapper,
  ) {}

  size(path: string): Promise<number | null> {
    return new Promise((resolve, reject) => {
      this.sftp.stat(remotePath(path), (err, stats) => {
        if (err) return (err as { code?: number }).code === 2 ? resolve(null) : reject(sftpError('stat', path, err));
        if ((stats.mode & S_IFMT) === S_IFDIR) return reject(new CliError(`${path} is a directory`));
        resolve(stats.size);
      });
    });
  }

  async download(path: string, offset: number, consume: (data: Readable) => Promise<void>): Promise<void> {
    const handle = await this.open(path, 'r');
    try {
      await consume(new OffsetReader(this.sftp, handle, path, offset));
    } finally {
      await this.closeHandle(handle, path).catch(() => undefined);
    }
  }

  async upload(path: string, offset: number, produce: (data: Writable) => Promise<void>): Promise<void> {
    // 'a' (WRITE|APPEND|CREAT) continues the existing file, and the writes are at its end
    // anyway; 'w' creates or truncates. Not 'r+': servers may refuse read-and-write handles.
    const handle = await this.open(path, offset > 0 ? 'a' : 'w');
    const writer = new OffsetWriter(this.sftp, handle, path, offset);
    try {
      await produce(writer);
    } catch (err) {
      await this.closeHandle(handle, path).catch(() => undefined);
      throw err;
    }
    // The server's OK to CLOSE is its word that the file is complete (Wharf: durable).
    await this.closeHandle(handle, path);
  }

  list(path: string): Promise<RemoteEntry[]> {
    return new Promise((resolve, reject) => {
      this.sftp.readdir(remotePath(path), (err, list) => {
        if (err) return reject(sftpError('list', path, err));
        resolve(
          list
            .filter((e) => e.filename !== '.' && e.filename !== '..')
            .map((e) => ({
              name: e.filename,
              directory: (e.attrs.mode & S_IFMT) === S_IFDIR,
              size: e.attrs.size ?? null,
              modified: e.attrs.mtime ? new Date(e.attrs.mtime * 1000) : null,
            })),
        );
      });
    });
  }

  async close(): Promise<void> {
    this.sftp.end();
    this.client.end();
  }

  private open(path: string, flags: 'r' | 'a' | 'w'): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.sftp.open(remotePath(path), flags, (err, handle) => (err ? reject(sftpError('open', path, err)) : resolve(handle)));
    });
  }

  private closeHandle(handle: Buffer, path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.sftp.close(handle, (err) => (err ? reject(sftpError('close', path, err)) : resolve()));
    });
  }
}

/** Reads a file in order with up to IN_FLIGHT READ requests outstanding. */
class OffsetReader extends Readable {
  /** Requests in file order; each resolves to its bytes (fewer at the end of the file). */
  private pending: { position: number; length: number; data: Promise<Buffer> }[] = [];
  private next: number;
  private eof = false;
  private readonly chunk: number;

  constructor(
    private readonly sftp: SFTPWrapper,
    private readonly handle: Buffer,
    private readonly path: string,
    offset: number,
  ) {
    super({ highWaterMark: CHUNK * IN_FLIGHT });
    this.next = offset;
    this.chunk = requestSize(sftp, '_maxReadLen');
  }

  override _read(): void {
    this.fill();
    const head = this.pending[0];
    if (!head) return void this.push(null);
    head.data.then(
      (data) => {
        this.pending.shift();
        if (data.length < head.length) {
          // Short read: the end of the file (0 bytes), or a server that sends less than
          // asked; then the rest of this range is asked for again before anything later.
          if (data.length === 0) {
            this.eof = true;
            this.pending = [];
          } else {
            this.pending.unshift(this.request(head.position + data.length, head.length - data.length));
          }
        }
        if (data.length > 0) this.push(data);
        else this._read();
      },
      (err) => this.destroy(sftpError('read', this.path, err)),
    );
  }

  private fill(): void {
    while (!this.eof && this.pending.length < IN_FLIGHT) {
      this.pending.push(this.request(this.next, this.chunk));
      this.next += this.chunk;
    }
  }

  private request(position: number, length: number) {
    const data = new Promise<Buffer>((resolve, reject) => {
      const buf = Buffer.allocUnsafe(length);
      this.sftp.read(this.handle, buf, 0, length, position, (err, bytesRead) => (err ? reject(err) : resolve(buf.subarray(0, bytesRead))));
    });
    data.catch(() => {});
    return { position, length, data };
  }
}

/** Writes at explicit offsets with up to IN_FLIGHT WRITE requests outstanding. */
class OffsetWriter extends Writable {
  private inFlight = 0;
  private failed: Error | null = null;
  private waiter: (() => void) | null = null;
  private readonly chunk: number;

  constructor(
    private readonly sftp: SFTPWrapper,
    private readonly handle: Buffer,
    private readonly path: string,
    private position: number,
  ) {
    super({ highWaterMark: CHUNK * 4 });
    this.chunk = requestSize(sftp, '_maxWriteLen');
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.failed) return cb(this.failed);
    for (let at = 0; at < chunk.length; at += this.chunk) this.send(chunk.subarray(at, at + this.chunk));
    if (this.inFlight < IN_FLIGHT) return cb();
    this.waiter = () => cb(this.failed);
  }

  override _final(cb: (err?: Error | null) => void): void {
    const check = () => {
      if (this.failed) return cb(this.failed);
      if (this.inFlight === 0) return cb();
      this.waiter = check;
    };
    check();
  }

  private send(piece: Buffer): void {
    const position = this.position;
    this.position += piece.length;
    this.inFlight++;
    this.sftp.write(this.handle, piece, 0, piece.length, position, (err) => {
      this.inFlight--;
      if (err && !this.failed) this.failed = sftpError('write', this.path, err);
      const w = this.waiter;
      this.waiter = null;
      w?.();
    });
  }
}

/** Relative paths stay relative to the SFTP session's start directory, like FTP's login directory. */
function remotePath(path: string): string {
  return path === '' ? '.' : path;
}

function sftpError(op: string, path: string, err: unknown): CliError {
  const message = err instanceof Error ? err.message : String(err);
  return new CliError(`${op} ${path || '.'} failed: ${message}`);
}
