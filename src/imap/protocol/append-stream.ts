/**
 * APPEND's arguments (RFC 9051 6.3.12, MULTIAPPEND RFC 3502): a mailbox, then one or more
 * messages, each with optional flags and date-time before its literal. The message literals
 * are handed to the session as they arrive instead of being buffered, and the session decides
 * (APPENDLIMIT, quota) whether to take each one before any of its bytes are asked for.
 */
import type { CommandInput } from './command-input.js';
import type { ArgTokenizer, LiteralMarker } from './tokenizer.js';
import { type AppendMessage, type AppendStream, ImapSyntaxError } from './types.js';

interface OfferedMessage {
  marker: LiteralMarker;
  /** 'offered': neither accept() nor reject() called yet. */
  state: 'offered' | 'streaming';
  remaining: number;
}

export class AppendReader implements AppendStream {
  private offset: number;
  private total: number;
  private messages = 0;
  private done = false;
  /** After a message literal the command continues on the next line. */
  private needLine = false;
  private current: OfferedMessage | null = null;

  constructor(
    private readonly input: CommandInput,
    private readonly tokens: ArgTokenizer,
    private line: Buffer,
    offset: number,
  ) {
    this.offset = offset;
    this.total = line.length;
  }

  async nextMessage(): Promise<AppendMessage | null> {
    if (this.done) return null;
    if (this.current) {
      await this.finishCurrent();
      if (this.done) return null;
    }
    for (;;) {
      if (this.needLine) await this.readContinuationLine();
      let scanned;
      try {
        scanned = this.tokens.scan(this.line, this.offset);
      } catch (err) {
        this.done = true;
        await this.input.skipRest(this.line);
        throw err;
      }
      if (scanned.kind === 'end') {
        this.done = true;
        if (this.messages === 0) throw new ImapSyntaxError('APPEND: missing message literal');
        if (this.tokens.topLevel.length > 0) throw new ImapSyntaxError('APPEND: unexpected arguments after the message');
        return null;
      }
      const marker = scanned.marker;
      // A literal at the top level after the mailbox is a message; any other is an argument.
      if (this.tokens.depth === 0 && (this.messages > 0 || this.tokens.topLevel.length > 0)) return this.offer(marker);
      const after = await this.input.takeArgumentLiteral(marker, this.tokens, this.total);
      if (after.kind !== 'line') {
        this.done = true;
        throw new ImapSyntaxError(after.kind === 'refused' ? after.message : 'Connection closed during APPEND');
      }
      this.line = after.line;
      this.offset = 0;
      this.total = after.total;
    }
  }

  /** Reads and drops whatever is left of the command (the session moved on without it). */
  async skipRest(): Promise<void> {
    try {
      const message = await this.nextMessage();
      await message?.reject();
    } catch (err) {
      if (!(err instanceof ImapSyntaxError)) throw err;
    }
    this.done = true;
  }

  /** The line after a message literal; throws ImapSyntaxError if the command cannot go on. */
  private async readContinuationLine(): Promise<void> {
    this.needLine = false;
    const next = await this.input.nextLine();
    if (!next) {
      this.done = true;
      throw new ImapSyntaxError('Connection closed during APPEND');
    }
    if (next.tooLong) {
      this.done = true;
      throw new ImapSyntaxError('Command line too long');
    }
    this.line = next.bytes;
    this.offset = 0;
    this.total += next.bytes.length;
    if (this.total > this.input.limits.maxCommandBytes) {
      this.done = true;
      await this.input.skipRest(next.bytes);
      throw new ImapSyntaxError('Command too long');
    }
  }

  private async offer(marker: LiteralMarker): Promise<AppendMessage> {
    const refusal = Number.isFinite(marker.size) ? this.input.nonSyncRefusal(marker) : 'Literal too large';
    if (refusal) {
      this.done = true;
      await this.input.skipLiteralAndRest(marker);
      throw new ImapSyntaxError(refusal);
    }
    this.tokens.skipStreamedLiteral();
    const args = this.tokens.takeTopLevel();
    this.messages++;
    const entry: OfferedMessage = { marker, state: 'offered', remaining: marker.size };
    this.current = entry;
    return {
      args,
      size: marker.size,
      binary: marker.binary,
      accept: () => this.stream(entry),
      reject: () => this.reject(entry),
    };
  }

  private async *stream(entry: OfferedMessage): AsyncGenerator<Buffer> {
    if (entry !== this.current || entry.state !== 'offered') throw new Error('APPEND message already accepted or rejected');
    entry.state = 'streaming';
    if (!entry.marker.nonSync) await this.input.sendContinuation();
    while (entry.remaining > 0) {
      const chunk = await this.input.nextBytes(entry.remaining);
      if (!chunk) {
        this.current = null;
        this.done = true;
        throw new ImapSyntaxError('Connection closed during APPEND');
      }
      entry.remaining -= chunk.length;
      yield chunk;
    }
    this.current = null;
    this.needLine = true;
  }

  private async reject(entry: OfferedMessage): Promise<void> {
    if (entry !== this.current || entry.state !== 'offered') throw new Error('APPEND message already accepted or rejected');
    this.current = null;
    this.done = true;
    await this.input.skipLiteralAndRest(entry.marker);
  }

  /** The session asked for the next message without finishing this one. */
  private async finishCurrent(): Promise<void> {
    const entry = this.current as OfferedMessage;
    if (entry.state === 'offered') return this.reject(entry);
    this.current = null;
    if (!(await this.input.discard(entry.remaining))) {
      this.done = true;
      return;
    }
    this.needLine = true;
  }
}
