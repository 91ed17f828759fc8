/**
 * The byte-level operations the command reader and the APPEND stream share: whole lines,
 * literal bytes (buffered, streamed or discarded), continuation requests, and skipping what is
 * left of a command that was refused.
 */
import type { Line } from '../../net/line-reader.js';
import { type ArgTokenizer, type LiteralMarker, trailingLiteral } from './tokenizer.js';
import { ImapSyntaxError } from './types.js';

export interface CommandLimits {
  /** Longest command (its lines and literals together), APPEND's message literals excepted. */
  maxCommandBytes: number;
  /** Largest literal accepted as an argument (APPEND's messages excepted). */
  maxLiteralBytes: number;
  /** Deepest list nesting. */
  maxDepth: number;
  /** Most tokens in one command. */
  maxTokens: number;
  /**
   * LITERAL- (RFC 7888 section 5): the largest non-synchronising literal accepted; a larger one is
   * read, discarded and answered BAD. Undefined for LITERAL+ (no limit beyond the others).
   */
  maxNonSyncLiteralBytes?: number;
}

/** RFC 7888: with LITERAL-, non-synchronising literals may be at most 4096 bytes. */
export const LITERAL_MINUS_MAX = 4096;

/** Where a command stands after a buffered argument literal. */
export type AfterLiteral =
  /** The literal was taken; scanning continues on `line`. */
  | { kind: 'line'; line: Buffer; total: number }
  /** The command is refused; whatever of it the client sends has been skipped. */
  | { kind: 'refused'; message: string }
  /** The connection ended. */
  | { kind: 'closed' };

/** Bytes asked of the line reader at a time when streaming or discarding a literal. */
const CHUNK_BYTES = 64 * 1024;

/**
 * Where commands come from: a LineReader, or a wrapper around one (e.g. one that applies the
 * session's idle timeout). Null means the client is gone.
 */
export interface LineSource {
  nextLine(): Promise<Line | null>;
  /** Up to `max` bytes, at least one. */
  nextBytes(max: number): Promise<Buffer | null>;
}

export class CommandInput {
  constructor(
    private readonly lines: LineSource,
    /** Sends a continuation request ("+ <text>") to the client. */
    private readonly continuation: (text: string) => void | Promise<void>,
    readonly limits: CommandLimits,
  ) {}

  /** Asks the client for a synchronising literal's bytes. */
  async sendContinuation(): Promise<void> {
    await this.continuation('Ready for literal data');
  }

  /** Why a non-synchronising message literal must be refused under LITERAL-, or null. */
  nonSyncRefusal(marker: LiteralMarker): string | null {
    const max = this.limits.maxNonSyncLiteralBytes;
    if (marker.nonSync && max !== undefined && marker.size > max) {
      return `Non-synchronizing literal larger than ${max} bytes`;
    }
    return null;
  }

  /**
   * Takes a literal that is an argument (a mailbox name, a search string): checks the limits
   * before any of its bytes are read, sends the continuation if it is synchronising, buffers the
   * bytes into `tokens`, and reads the line that continues the command. `total` is the size of
   * the command so far.
   */
  async takeArgumentLiteral(marker: LiteralMarker, tokens: ArgTokenizer, total: number): Promise<AfterLiteral> {
    const refusal =
      marker.size > this.limits.maxLiteralBytes
        ? 'Literal too large'
        : total + marker.size > this.limits.maxCommandBytes
          ? 'Command too long'
          : this.nonSyncRefusal(marker);
    if (refusal) return (await this.skipLiteralAndRest(marker)) ? { kind: 'refused', message: refusal } : { kind: 'closed' };
    if (!marker.nonSync) await this.sendContinuation();
    const bytes = await this.readExactly(marker.size);
    if (!bytes) return { kind: 'closed' };
    try {
      tokens.pushLiteral(bytes, marker.binary);
    } catch (err) {
      if (!(err instanceof ImapSyntaxError)) throw err;
      const rest = await this.nextLine();
      if (!rest) return { kind: 'closed' };
      if (!rest.tooLong) await this.skipRest(rest.bytes);
      return { kind: 'refused', message: err.message };
    }
    const next = await this.nextLine();
    if (!next) return { kind: 'closed' };
    if (next.tooLong) return { kind: 'refused', message: 'Command line too long' };
    const newTotal = total + marker.size + next.bytes.length;
    if (newTotal > this.limits.maxCommandBytes) {
      await this.skipRest(next.bytes);
      return { kind: 'refused', message: 'Command too long' };
    }
    return { kind: 'line', line: next.bytes, total: newTotal };
  }

  /**
   * Skips a refused literal and the rest of its command: a synchronising literal is never
   * sent (no continuation went out), a non-synchronising one is read and dropped. False if
   * the connection ended.
   */
  async skipLiteralAndRest(marker: LiteralMarker): Promise<boolean> {
    if (!marker.nonSync) return true;
    if (!(await this.discard(marker.size))) return false;
    const next = await this.nextLine();
    if (!next) return false;
    if (!next.tooLong) await this.skipRest(next.bytes);
    return true;
  }

  nextLine(): Promise<Line | null> {
    return this.lines.nextLine();
  }

  /** Exactly `size` bytes, or null if the connection ends first. */
  async readExactly(size: number): Promise<Buffer | null> {
    const parts: Buffer[] = [];
    let remaining = size;
    while (remaining > 0) {
      const chunk = await this.lines.nextBytes(remaining);
      if (!chunk) return null;
      parts.push(chunk);
      remaining -= chunk.length;
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, size);
  }

  /** Up to `max` bytes (at least one), or null at end of stream. */
  nextBytes(max: number): Promise<Buffer | null> {
    return this.lines.nextBytes(Math.min(max, CHUNK_BYTES));
  }

  /** Reads and drops `size` bytes without holding them; false if the connection ends first. */
  async discard(size: number): Promise<boolean> {
    if (!Number.isFinite(size)) return false;
    let remaining = size;
    while (remaining > 0) {
      const chunk = await this.nextBytes(remaining);
      if (!chunk) return false;
      remaining -= chunk.length;
    }
    return true;
  }

  /**
   * Skips the rest of a command whose current line was `line`. A non-synchronising literal at
   * its end still arrives, so its bytes and the line after it are skipped too; a synchronising
   * one will not be sent (no continuation was given), so the command ends there.
   */
  async skipRest(line: Buffer): Promise<void> {
    for (;;) {
      const marker = trailingLiteral(line);
      if (!marker || !marker.nonSync) return;
      if (!(await this.discard(marker.size))) return;
      const next = await this.lines.nextLine();
      if (!next || next.tooLong) return;
      line = next.bytes;
    }
  }
}
