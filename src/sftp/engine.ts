/**
 * One SFTP session on one SSH channel: reads requests one after another, runs each against
 * the user's file space and answers it. Requests are served in the order they arrive, one at
 * a time. WRITEs and READs do not wait for the store one by one, though: WRITEs are answered
 * once accepted and written behind in large blocks (write-behind.ts), and sequential READs are
 * answered from blocks read ahead (read-ahead.ts). While one of those blocks is awaited the
 * channel stops being read, so the SSH window holds a fast client back (memory stays bounded
 * whatever it sends). The request handlers live in file-requests.ts, path-requests.ts and
 * extended-requests.ts; this class owns the handles and every way the session ends, so that
 * an upload not closed is given up (never committed) on all of them.
 */
import type { Duplex } from 'node:stream';
import type { Logger } from '../net/types.js';
import type { FileInfo, FileReader, FileSpace, FileStore, FileUpload } from '../store/file-store.js';
import { SftpError, statusForError } from './errors.js';
import { extendedRequests } from './extended-requests.js';
import { fileRequests } from './file-requests.js';
import { pathRequests } from './path-requests.js';
import { endReadAhead, type ReadAhead } from './read-ahead.js';
import { BlockPool, settleUpload, startFlush, type WriteBehind } from './write-behind.js';
import { PacketType, Status } from './protocol.js';
import {
  attrsPacket,
  BadMessageError,
  dataPacket,
  dataPacketInPlace,
  extendedReplyPacket,
  FieldReader,
  FatalPacketError,
  handlePacket,
  namePacket,
  readPackets,
  statusPacket,
  versionPacket,
  type NameEntry,
  type ReplyAttrs,
} from './wire.js';

/** What an SFTP session works on: the user's space and the rules for uploads. */
export interface SftpContext {
  files: FileStore;
  space: FileSpace;
  /** Shown as owner and group in `ls -l` lines. */
  owner: string;
  /** Bytes the space may still grow by (quota left), null for no limit. */
  uploadAllowance(): Promise<number | null>;
  /** An upload cut short keeps what arrived (config files.keepPartial). */
  keepPartial: boolean;
  log: Logger;
}

export interface ReadHandle {
  kind: 'read';
  path: string;
  reader: FileReader;
  readAhead: ReadAhead;
}

export interface WriteHandle {
  kind: 'write';
  path: string;
  /**
   * The store's upload; null for a file opened for writing without TRUNC or APPEND, where the
   * first WRITE's offset says from where it is rewritten ('resume'), and no WRITE changes nothing.
   */
  upload: FileUpload | null;
  /** Bytes of the old file kept in front of what is written (resume offset, appended-to size). */
  keptBytes: number;
  /** Size of the file the upload replaces (0 for a new one): the quota counts only growth. Null until needed. */
  replacedBytes: number | null;
  /** Bytes the space may grow by (quota left when the upload started); null for no limit. */
  maxBytes: number | null;
  /** Bytes accepted from WRITEs (written or still gathered; not counting keptBytes). */
  acceptedBytes: number;
  /** WRITEs accepted but not yet in the store (see write-behind.ts). */
  writeBehind: WriteBehind;
  /** The offset the next WRITE must have; null when offsets are ignored (APPEND) or not yet known. */
  nextOffset: number | null;
  /** With APPEND every WRITE goes to the end, whatever its offset (v3 section 6.3). */
  append: boolean;
  /** Set once a WRITE failed: the upload is given up, later WRITEs and CLOSE report this. */
  failure: { status: Status; message: string } | null;
  /** The store upload being given up after `failure` (CLOSE answers only once it is done). */
  givingUp?: Promise<void>;
  /** WRITEs that arrived before the bytes in front of them, by offset (see MAX_EARLY_BYTES). */
  early: Map<number, Buffer>;
  earlyBytes: number;
  /** Attributes given at OPEN or by FSETSTAT, applied once the file is committed. */
  mode: number | null;
  modified: Date | null;
}

export interface DirectoryHandle {
  kind: 'directory';
  path: string;
  /** Entries not sent yet; null before the first READDIR. */
  entries: NameEntry[] | null;
}

export type OpenHandle = ReadHandle | WriteHandle | DirectoryHandle;

/** A request handler: reads its fields from `req` and answers through the session. */
export type RequestHandler = (session: SftpSession, id: number, req: FieldReader) => Promise<void>;

/** Open handles allowed at once; OpenSSH's server allows 512 (sftp-server.c). */
export const MAX_HANDLES = 512;

const HANDLERS = new Map<number, RequestHandler>([...fileRequests, ...pathRequests, ...extendedRequests]);

const PACKET_NAMES: Record<number, string> = {
  [PacketType.OPEN]: 'open',
  [PacketType.CLOSE]: 'close',
  [PacketType.READ]: 'read',
  [PacketType.WRITE]: 'write',
};

export interface SftpSessionOptions {
  /** Called on every request, for the connection's idle timer. */
  onActivity?: () => void;
  /**
   * The channel copies what it is given before write() returns whenever nothing is queued in
   * it (ssh2's channels: each write becomes SSH packets at once while the window allows), so
   * a reply's memory may be reused as soon as writableLength is 0 again.
   */
  channelCopiesWrites?: boolean;
  /**
   * Called once, when every handle is released and just before the session ends the channel:
   * `clientEnded` is true when the client closed its side (a normal end), false when the
   * session was stopped or the stream broke.
   */
  onEnd?: (clientEnded: boolean) => void;
}

export class SftpSession {
  private readonly handles = new Map<string, OpenHandle>();
  private nextHandle = 1;
  private initialized = false;
  private busy = false;
  private stopping = false;
  private released: Promise<void> | null = null;
  private stopRequested: () => void = () => {};
  /** Bytes gathered by write-behind in all uploads of the session (see write-behind.ts). */
  writeBehindBytes = 0;
  /** Blocks write-behind gathers WRITEs in, reused from one upload to the next. */
  readonly blocks = new BlockPool();
  /** Read handles holding read-ahead blocks (see read-ahead.ts). */
  readAheadHandles = 0;
  /** Resolves when the session has ended and every handle is released. */
  readonly finished: Promise<void>;

  private readonly onActivity: () => void;
  private readonly channelCopiesWrites: boolean;
  private readonly onEnd: (clientEnded: boolean) => void;

  constructor(
    readonly ctx: SftpContext,
    private readonly channel: Duplex,
    options: SftpSessionOptions = {},
  ) {
    this.onActivity = options.onActivity ?? (() => {});
    this.channelCopiesWrites = options.channelCopiesWrites ?? false;
    this.onEnd = options.onEnd ?? (() => {});
    channel.on('error', (err: Error) => this.log.debug('sftp channel error', { error: err.message }));
    this.finished = this.run();
  }

  get log(): Logger {
    return this.ctx.log;
  }

  /** True while a request is being served (shutdown lets it finish). */
  get inRequest(): boolean {
    return this.busy;
  }

  /** True once the session is ending: a request that may run long (copy-data) stops early. */
  get isStopping(): boolean {
    return this.stopping;
  }

  // ---- handles -------------------------------------------------------------------------

  addHandle(handle: OpenHandle): Buffer {
    if (this.handles.size >= MAX_HANDLES) throw new SftpError(Status.FAILURE, `too many open handles (at most ${MAX_HANDLES})`);
    const id = Buffer.from(String(this.nextHandle++));
    this.handles.set(id.toString('latin1'), handle);
    return id;
  }

  /** The open handle named by the request; FAILURE for an unknown one (closed, or never opened). */
  handle(id: Buffer): OpenHandle {
    const handle = this.handles.get(id.toString('latin1'));
    if (!handle) throw new SftpError(Status.FAILURE, 'invalid handle');
    return handle;
  }

  removeHandle(id: Buffer): void {
    this.handles.delete(id.toString('latin1'));
  }

  /** Hands every upload's gathered bytes to the store: all together gathered too much. */
  async flushAllUploads(): Promise<void> {
    for (const h of this.handles.values()) {
      if (h.kind === 'write' && h.writeBehind.bytes > 0) await startFlush(this, h).catch(() => undefined);
    }
  }

  // ---- replies -------------------------------------------------------------------------

  async send(packet: Buffer): Promise<void> {
    const ch = this.channel;
    if (ch.destroyed || ch.writableEnded) return;
    if (ch.write(packet)) return;
    // Wait for the client to take what we sent (a READ reply it is slow to read).
    await new Promise<void>((resolve) => {
      const done = () => {
        ch.off('drain', done);
        ch.off('close', done);
        resolve();
      };
      ch.on('drain', done);
      ch.on('close', done);
    });
  }

  status(id: number, status: Status, message: string): Promise<void> {
    return this.send(statusPacket(id, status, message));
  }

  ok(id: number): Promise<void> {
    return this.status(id, Status.OK, 'Success');
  }

  sendHandle(id: number, handle: Buffer): Promise<void> {
    return this.send(handlePacket(id, handle));
  }

  sendData(id: number, data: Buffer | Buffer[]): Promise<void> {
    return this.send(dataPacket(id, data));
  }

  /**
   * Whether a reply may be built in memory that an earlier reply used (see read-ahead.ts, room
   * in front): only once the channel has copied everything written to it.
   */
  get earlierRepliesCopied(): boolean {
    return this.channelCopiesWrites && this.channel.writableLength === 0;
  }

  /** A DATA reply whose header goes into the DATA_HEADER_BYTES in front of `data` (no copy). */
  sendDataInPlace(id: number, data: Buffer): Promise<void> {
    return this.send(dataPacketInPlace(id, data));
  }

  sendNames(id: number, entries: NameEntry[]): Promise<void> {
    return this.send(namePacket(id, entries));
  }

  sendAttrs(id: number, attrs: ReplyAttrs): Promise<void> {
    return this.send(attrsPacket(id, attrs));
  }

  sendExtendedReply(id: number, values: number[]): Promise<void> {
    return this.send(extendedReplyPacket(id, values));
  }

  // ---- life cycle ----------------------------------------------------------------------

  /**
   * Ends the session: a request in flight (a CLOSE committing an upload) finishes and is
   * answered first; uploads never closed are given up.
   */
  stop(): Promise<void> {
    this.stopping = true;
    this.stopRequested();
    return this.finished;
  }

  private async run(): Promise<void> {
    // Not destroyed when its data ends (what iterating a stream does by default): the client's
    // EOF is not the end of the session, whose replies and exit status are still to be sent.
    const packets = readPackets(this.channel.iterator({ destroyOnReturn: false }));
    let clientEnded = false;
    try {
      while (!this.stopping) {
        // stop() must end the wait for the next request even when the client sends nothing.
        // A fresh promise each time: racing one long-lived promise would keep a reaction, and
        // with it every packet ever received, alive until the session ends.
        const stopped = new Promise<'stopped'>((resolve) => (this.stopRequested = () => resolve('stopped')));
        const next = await Promise.race([packets.next(), stopped]);
        if (next === 'stopped') break;
        if (next.done) {
          clientEnded = !this.stopping;
          break;
        }
        this.onActivity();
        this.busy = true;
        try {
          await this.serve(next.value);
        } finally {
          this.busy = false;
        }
        this.onActivity();
      }
    } catch (err) {
      if (err instanceof FatalPacketError) this.log.warn('sftp protocol error', { error: err.message });
      else if (!this.stopping && !this.channel.destroyed) this.log.error('sftp session failed', { error: err as Error });
    } finally {
      await this.release();
      if (!this.channel.destroyed) {
        this.onEnd(clientEnded);
        this.channel.end();
      }
    }
  }

  private async serve(packet: Buffer): Promise<void> {
    const req = new FieldReader(packet);
    const type = req.byte();
    if (!this.initialized) {
      // INIT carries the client's version, not a request id; we answer version 3 whatever it
      // says (v3 section 4: the lower of the two is used, and no client speaks below 3).
      if (type !== PacketType.INIT) throw new FatalPacketError(`expected INIT, got packet type ${type}`);
      this.initialized = true;
      await this.send(versionPacket());
      return;
    }
    let id: number;
    try {
      id = req.uint32();
    } catch {
      throw new FatalPacketError(`packet type ${type} without a request id`);
    }
    const handler = HANDLERS.get(type);
    if (!handler) {
      await this.status(id, Status.OP_UNSUPPORTED, `unsupported request type ${type}`);
      return;
    }
    try {
      await handler(this, id, req);
    } catch (err) {
      if (err instanceof BadMessageError) {
        await this.status(id, Status.BAD_MESSAGE, err.message);
        return;
      }
      const { status, message, unexpected } = statusForError(err);
      if (unexpected) this.log.error('sftp request failed', { request: PACKET_NAMES[type] ?? type, error: err as Error });
      await this.status(id, status, message);
    }
  }

  /** Gives up every upload not closed and closes every reader; safe to call more than once. */
  release(): Promise<void> {
    this.released ??= (async () => {
      const handles = [...this.handles.values()];
      this.handles.clear();
      for (const h of handles) {
        try {
          if (h.kind === 'read') {
            await endReadAhead(this, h);
            await h.reader.close();
          } else if (h.kind === 'write' && h.upload) {
            // What was accepted but not written yet is written first when it is to be kept.
            await settleUpload(this, h, this.ctx.keepPartial);
            if (h.failure) continue;
            await h.upload.abort({ keepPartial: this.ctx.keepPartial });
            this.log.info('upload abandoned', { path: h.path, bytes: h.upload.bytesWritten, kept: this.ctx.keepPartial });
          }
        } catch (err) {
          this.log.warn('releasing a handle failed', { path: h.path, error: (err as Error).message });
        }
      }
    })();
    return this.released;
  }
}

/** The info shown for the root of a space the store has not created yet (no file uploaded). */
export function emptyRoot(): FileInfo {
  return { name: '', type: 'directory', size: 0, modified: new Date(), mode: 0o755 };
}
