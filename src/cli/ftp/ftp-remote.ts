/**
 * FTP and FTPS for `wharf ftp`, over Wharf's own client (src/ftp/client): resume is REST
 * before RETR for a download, and APPE for an upload (RFC 959's append, which every server
 * has); a server that does not implement APPE gets REST + STOR instead.
 */
import type { Readable, Writable } from 'node:stream';
import { FtpClientError, FtpSession, listEntries, listLines, replyText, retrieve, store, type FtpConnectOptions } from '../../ftp/client/index.js';
import { CliError } from '../errors.js';
import type { RemoteEntry, RemoteFiles } from './remote.js';

export async function connectFtp(options: FtpConnectOptions): Promise<RemoteFiles> {
  return new FtpRemote(await FtpSession.connect(options));
}

class FtpRemote implements RemoteFiles {
  constructor(private readonly session: FtpSession) {}

  async size(path: string): Promise<number | null> {
    try {
      return await this.session.size(path);
    } catch (err) {
      // 550 is "no such file" (or a directory); anything else is the server's problem to report.
      if (err instanceof FtpClientError && err.reply?.code === 550) return null;
      throw err;
    }
  }

  async download(path: string, offset: number, consume: (data: Readable) => Promise<void>): Promise<void> {
    await retrieve(this.session, path, consume, { offset });
  }

  async upload(path: string, offset: number, produce: (data: Writable) => Promise<void>): Promise<void> {
    if (offset === 0) {
      await store(this.session, path, produce);
      return;
    }
    try {
      await store(this.session, path, produce, { mode: 'APPE' });
    } catch (err) {
      // 502/504: APPE not implemented. Nothing was sent yet (the refusal came before 150).
      if (!(err instanceof FtpClientError && (err.reply?.code === 502 || err.reply?.code === 504))) throw err;
      await store(this.session, path, produce, { mode: 'STOR', offset });
    }
  }

  async list(path: string): Promise<RemoteEntry[] | string[]> {
    if (!this.session.has('MLST')) return listLines(this.session, path);
    const entries = await listEntries(this.session, path);
    return entries.map((e) => ({ name: e.name, directory: e.type === 'dir', size: e.type === 'dir' ? null : e.size, modified: e.modified }));
  }

  async close(): Promise<void> {
    await this.session.quit();
  }
}

/** FtpClientError as a one-line message for the person at the terminal. */
export function ftpFailure(err: FtpClientError): CliError {
  if (err.kind === 'reply' && err.reply && !err.message.includes(replyText(err.reply))) {
    return new CliError(`${err.stage} failed: ${replyText(err.reply)}`);
  }
  return new CliError(err.kind === 'reply' && err.stage !== 'login' ? `${err.stage} failed: ${err.message}` : err.message);
}
