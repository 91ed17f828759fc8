/**
 * Sending a file on a data connection from a few buffers used over and over, instead of a
 * fresh buffer per chunk: at hundreds of MB/s, a new buffer per chunk kept V8's collector
 * marking the whole heap several times a second (each buffer is memory outside the heap that
 * counts toward the next full collection), which cost more time than the reads and the
 * socket writes together. A buffer handed to socket.write() is read by the socket until the
 * write's callback, so it is refilled only after that; while every buffer is in the socket,
 * the sender waits, which is also its back-pressure (the client reads slower than the disk).
 */
import type { Transfer } from './session.js';
import { DataInterruptedError, type DataSocket } from './data-transfer.js';

/** Bytes of one read and one socket write. */
export const SEND_BUFFER_BYTES = 1024 * 1024;
/**
 * Buffers per transfer: one being read into while the other is in the socket (a third made
 * no measurable difference on loopback, four of 256 KiB were slower).
 */
export const SEND_BUFFERS = 2;

const ABORTED = '426 Connection closed; transfer aborted';

/** Reads up to `target.length` bytes at `position` into `target`; fewer only at the end, 0 past it. */
export type ReadInto = (target: Buffer, position: number) => Promise<number>;

export interface SendOptions {
  /** Turns the bytes read into what goes on the wire (TYPE A's LF to CR LF), or keeps them. */
  convert?: (bytes: Buffer) => Buffer;
  /** Called with each chunk's size on the wire, once it is handed to the socket. */
  onSent?: (bytes: number) => void;
  bufferBytes?: number;
  buffers?: number;
}

/**
 * Sends the bytes `read` gives from `start` to its end on `socket`, and resolves once the last
 * chunk is handed to the socket (finishSending then waits for the client to have it all).
 * Rejects with the socket's error when it closes first, or 426 when the transfer is aborted;
 * a read's failure is thrown as is. No read is running when it settles.
 *
 * The next read starts before a chunk is written, so the disk (or page cache) is read while
 * the socket copies the previous chunk, instead of the two taking turns.
 */
export async function sendFromReads(socket: DataSocket, read: ReadInto, start: number, transfer: Transfer, options: SendOptions = {}): Promise<void> {
  const ring = new BufferRing(options.buffers ?? SEND_BUFFERS, options.bufferBytes ?? SEND_BUFFER_BYTES);
  const onClose = () => ring.fail(socket.errored ?? new DataInterruptedError(ABORTED));
  socket.once('close', onClose);
  transfer.signal.addEventListener('abort', onClose, { once: true });
  const readAt = async (position: number): Promise<{ buffer: Buffer; count: number }> => {
    // A free buffer is read into at once (the read is under way when this returns).
    const buffer = ring.takeNow() ?? (await ring.take());
    return { buffer, count: await read(buffer, position) };
  };
  let next: Promise<{ buffer: Buffer; count: number }> | null = readAt(start);
  try {
    let position = start;
    while (next) {
      const { buffer, count }: { buffer: Buffer; count: number } = await next;
      next = null;
      if (transfer.aborted || socket.destroyed) throw socket.errored ?? new DataInterruptedError(ABORTED);
      if (count === 0) return;
      position += count;
      // Fewer bytes than asked is the end of the file: nothing more to read.
      if (count === buffer.length) next = readAt(position);
      const bytes = count === buffer.length ? buffer : buffer.subarray(0, count);
      const wire = options.convert ? options.convert(bytes) : bytes;
      // A failed write destroys the socket: 'close' then fails the ring, and a buffer the
      // socket may still hold is never handed out again.
      socket.write(wire, (err?: Error | null) => {
        if (!err) ring.give(buffer);
      });
      options.onSent?.(wire.length);
    }
  } finally {
    socket.off('close', onClose);
    transfer.signal.removeEventListener('abort', onClose);
    if (next) {
      // Stopped early: a read waiting for a buffer gives up, one under way is let finish.
      ring.fail(new DataInterruptedError(ABORTED));
      await next.catch(() => undefined);
    }
  }
}

/**
 * A fixed set of equal buffers, made when first needed: take() waits while all of them are
 * out, give() returns one, fail() ends every wait with an error (and every later take()).
 */
export class BufferRing {
  private readonly free: Buffer[] = [];
  private made = 0;
  private waiter: { resolve: (b: Buffer) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;

  constructor(
    readonly count: number,
    readonly bytes: number,
  ) {}

  /** Buffers handed out and not given back. */
  get out(): number {
    return this.made - this.free.length;
  }

  /** A buffer if one is free (or can still be made), else null; never after fail(). */
  takeNow(): Buffer | null {
    if (this.failure || this.waiter) return null;
    const ready = this.free.pop();
    if (ready) return ready;
    if (this.made < this.count) {
      this.made++;
      return Buffer.allocUnsafe(this.bytes);
    }
    return null;
  }

  take(): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.waiter) return Promise.reject(new Error('one take() at a time'));
    const ready = this.takeNow();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  give(buffer: Buffer): void {
    const waiter = this.waiter;
    if (waiter && !this.failure) {
      this.waiter = null;
      waiter.resolve(buffer);
    } else {
      this.free.push(buffer);
    }
  }

  fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.reject(err);
  }
}
