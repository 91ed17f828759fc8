/**
 * Message bodies: written once as a stream, read back in ranges, shared between entries. One facet
 * of the storage contract (../types.ts says what every implementation keeps to).
 */

import type { MessageStructure } from '../../mime/analysis.js';
import type { HeaderSummary } from './mail.js';

export interface StoredMessage {
  id: number;
  size: number;
  internalDate: Date;
  headers: HeaderSummary;
}

/**
 * Streams a new message body into the store. The body is not visible anywhere until it is
 * passed to `deliver` (or `append`); an aborted or never-delivered writer leaves nothing behind
 * (after a crash, the store discards unfinished bodies when it opens).
 */
export interface BodyWriter {
  /** Bytes written so far. */
  readonly size: number;
  /** Adds bytes. Resolves when the store can take more (back-pressure). */
  write(chunk: Buffer): Promise<void>;
  /** Discards everything written. Safe to call more than once, and after a failed deliver. */
  abort(): Promise<void>;
  /**
   * Places `bytes` before everything written (before and after this call): header fields a
   * server can only compute once the whole message went by (Authentication-Results after
   * verifying DKIM/SPF/DMARC, DKIM-Signature after signing). A later call goes in front of an
   * earlier one. `size`, the stored size, the MIME structure's offsets and readBody all count
   * the prepended bytes; the header summary does not change (none of its fields is prepended).
   * Only before the body is handed to deliver/append; 'invalid' afterwards. Meant for a few
   * header lines (at most 64 KiB in all; 'invalid' beyond).
   */
  prepend(bytes: Buffer): void;
}

/** Message bodies and what was learnt about them while they streamed in. */
export interface BlobStore {
  /**
   * Starts a new body. Bodies can be large: they are never held whole in memory. The MIME
   * structure and search text are computed from the chunks as they are written.
   */
  createBody(): BodyWriter;
  getMessage(messageId: number): Promise<StoredMessage | null>;
  /**
   * Streams a stored body, optionally only bytes [start, end) of it. The stream yields
   * Buffers; the whole body is never loaded at once.
   */
  readBody(messageId: number, range?: { start: number; end?: number }): AsyncIterable<Buffer>;
  /** The MIME structure and envelope computed when the message was stored; null if no such message. */
  getStructure(messageId: number): Promise<MessageStructure | null>;
}
