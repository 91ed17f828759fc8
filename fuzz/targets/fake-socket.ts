/**
 * A stand-in for a client's socket: the input is delivered in pieces (cut where the input's
 * own hash says, so a failure replays identically), honouring pause() the way a TCP socket
 * does, then the client half-closes. What the server writes is collected.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { Rng, seedOf, splitAt, splitPoints } from '../engine/rng.js';

export class FakeSocket extends EventEmitter {
  private paused = false;
  private resumed: (() => void) | null = null;
  readonly written: Buffer[] = [];
  destroyed = false;

  pause(): this {
    this.paused = true;
    return this;
  }

  resume(): this {
    this.paused = false;
    const r = this.resumed;
    this.resumed = null;
    r?.();
    return this;
  }

  isPaused(): boolean {
    return this.paused;
  }

  write(data: string | Buffer): boolean {
    this.written.push(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    return true;
  }

  end(): this {
    return this;
  }

  destroy(): this {
    this.destroyed = true;
    return this;
  }

  asDuplex(): Duplex {
    return this as unknown as Duplex;
  }

  /** Sends `bytes` in pieces, each on a later turn of the event loop, then 'end'. */
  async deliver(bytes: Buffer): Promise<void> {
    const rng = new Rng(seedOf(bytes));
    for (const piece of splitAt(bytes, splitPoints(rng, bytes.length))) {
      while (this.paused) await new Promise<void>((resolve) => (this.resumed = resolve));
      if (piece.length > 0) this.emit('data', piece);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.emit('end');
  }

  output(): string {
    return Buffer.concat(this.written).toString('latin1');
  }
}

/** The pieces a streaming parser is fed, cut deterministically from the input's hash. */
export function piecesOf(bytes: Buffer, salt = 0): Buffer[] {
  const rng = new Rng(seedOf(bytes) ^ salt);
  return splitAt(bytes, splitPoints(rng, bytes.length));
}

/** Text without lone surrogates (it can be encoded as UTF-8 and back unchanged). */
export function isWellFormed(text: string): boolean {
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);
}

export function bytesOf(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}
