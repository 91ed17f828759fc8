/**
 * What `wharf ftp get|put|ls` needs from a server, whatever the protocol: FTP/FTPS
 * (ftp-remote.ts, Wharf's own client) or SFTP (sftp-client.ts, over ssh2). Bytes always move
 * as streams, so a file of any size passes through a fixed amount of memory.
 */
import type { Readable, Writable } from 'node:stream';

export interface RemoteEntry {
  name: string;
  directory: boolean;
  size: number | null;
  modified: Date | null;
}

export interface RemoteFiles {
  /** The size of a file, or null when there is no such file. */
  size(path: string): Promise<number | null>;
  /** Reads `path` from `offset`, handing the bytes to `consume`; resolves once the server confirmed the end. */
  download(path: string, offset: number, consume: (data: Readable) => Promise<void>): Promise<void>;
  /**
   * Writes `path` from `offset` (0: create or replace; more: continue a partial upload) with
   * the bytes `produce` writes; resolves once the server has accepted the whole file.
   */
  upload(path: string, offset: number, produce: (data: Writable) => Promise<void>): Promise<void>;
  /** The entries of a directory, or the server's own listing lines when it has no machine-readable form. */
  list(path: string): Promise<RemoteEntry[] | string[]>;
  close(): Promise<void>;
}
