/**
 * Reading an upload's plain data connection without a new buffer per socket read.
 *
 * Why: a socket read normally gets a fresh 64 KiB buffer. At hundreds of MB/s those buffers die
 * at once, but they live outside V8's heap, and V8 collects them only when the external memory
 * it is told about has grown by tens of MB since the last collection: a loopback receiver
 * copying 1 GiB from 'data' events into a 1 MiB buffer peaked 41 MiB above where it started.
 * Reading into one buffer (Node's `onread` option) and copying into two reused batch buffers
 * keeps an upload to about 2 MiB however large the file (the same receiver: 10 MiB, most of
 * it the process's own warm-up; Wharf's anonymous memory grew by 2 MiB over a 1 GiB upload),
 * and leaves the collector nothing to do.
 *
 * The batches follow dataBatches' rules (data-transfer.ts): whatever arrived while the
 * previous batch was being written, valid until the next one is asked for.
 */
import net from 'node:net';
import { UPLOAD_BATCH_BYTES } from './data-transfer.js';

/** The most one socket read delivers: the size of the buffer it reads into. */
const READ_BYTES = 64 * 1024;

/**
 * One read buffer for every upload: the callback copies what a read put there before it
 * returns, and reads run one at a time on the event loop's thread, so no two sockets use it
 * at once.
 */
const sharedReadBuffer = Buffer.allocUnsafe(READ_BYTES);

/** A socket whose handle reads into `sharedReadBuffer`; Node's handle API is internal. */
interface HandleOwner {
  _handle: { useUserBuffer?: unknown; reading?: boolean } | null;
}

export class UploadReader {
  /** The two batch buffers, made when first needed (a small file fills a part of one). */
  private readonly buffers: (Buffer | null)[] = [null, null];
  /** Index of the buffer reads are copied into; null while neither is free (reading paused). */
  private filling: number | null = 0;
  private fill = 0;
  /** Buffers filled as far as a read is sure to fit, oldest first, waiting to be taken. */
  private readonly ready: { index: number; length: number }[] = [];
  /** Index of the buffer the consumer holds (given out as the last batch). */
  private held: number | null = null;
  private ended = false;
  private failure: Error | null = null;
  private wake: (() => void) | null = null;
  private socket: net.Socket | null = null;

  constructor(private readonly batchBytes = UPLOAD_BATCH_BYTES) {
    if (batchBytes < 2 * READ_BYTES) throw new RangeError(`a batch holds at least two reads (${2 * READ_BYTES} bytes)`);
  }

  /** The `onread` option of a socket this reader reads (net.connect, new net.Socket). */
  readonly onread = {
    buffer: sharedReadBuffer,
    callback: (bytes: number, buffer: Uint8Array): boolean => this.receive(bytes, buffer),
  };

  /**
   * Takes over a connection accepted with `pauseOnConnect` (a passive data connection) that
   * has not read yet, so its reads come here: a new Socket on the same handle, made with
   * `onread`. Returns null, leaving `socket` as it was, when it cannot: the socket has read
   * already, or this Node's handle lacks the internal call `onread` relies on.
   */
  adopt(socket: net.Socket): net.Socket | null {
    const owner = socket as unknown as HandleOwner;
    const handle = owner._handle;
    if (!handle || typeof handle.useUserBuffer !== 'function' || handle.reading !== false || socket.readableLength > 0) return null;
    owner._handle = null;
    // The accepted Socket owns no handle now and is never used again.
    socket.removeAllListeners();
    // `handle` is the option net.Server itself makes accepted Sockets with; not in the typings.
    const options = { handle, onread: this.onread, readable: true, writable: true } as net.SocketConstructorOpts;
    return this.attach(new net.Socket(options));
  }

  /** Reads `socket`, made with this reader's `onread`. */
  attach(socket: net.Socket): net.Socket {
    this.socket = socket;
    // As dataBatches: errors are seen here and through 'close'.
    socket.on('error', (err) => {
      this.failure ??= err;
      this.notify();
    });
    socket.once('end', () => this.finish());
    socket.once('close', () => this.finish());
    return socket;
  }

  /** Whether `socket` is the one this reader reads. */
  reads(socket: net.Socket): boolean {
    return this.socket === socket;
  }

  /** The upload's bytes in batches, until the end of the data; throws the socket's error. */
  async *batches(): AsyncGenerator<Buffer> {
    const socket = this.socket;
    if (!socket) throw new Error('the reader has no socket');
    // Not while both buffers are full (the client sent before the 150 reached it): the first
    // batch given back resumes reading (release).
    if (this.filling !== null) socket.resume();
    for (;;) {
      this.release();
      if (this.failure) throw this.failure;
      const next = this.ready.shift();
      if (next) {
        this.held = next.index;
        yield this.buffers[next.index]!.subarray(0, next.length);
        continue;
      }
      if (this.filling !== null && this.fill > 0) {
        // What arrived meanwhile, not waiting for a full buffer; the other one is free (nothing
        // is held or ready), so reads go on there.
        const index = this.filling;
        this.held = index;
        this.filling = 1 - index;
        const length = this.fill;
        this.fill = 0;
        yield this.buffers[index]!.subarray(0, length);
        continue;
      }
      if (this.ended) {
        // A socket destroyed with an error emits 'error' before 'close'.
        const errored = socket.errored;
        if (errored) throw errored;
        return;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  /** Copies one read into the buffer being filled; false stops reading until one is free. */
  private receive(bytes: number, buffer: Uint8Array): boolean {
    const index = this.filling;
    if (index === null) {
      // Reading stops while no buffer is free, so no read comes; if one did, it must not be lost.
      this.failure ??= new Error('upload data arrived with no buffer to take it');
      this.notify();
      return false;
    }
    const target = (this.buffers[index] ??= Buffer.allocUnsafe(this.batchBytes));
    target.set(buffer.subarray(0, bytes), this.fill);
    this.fill += bytes;
    // Full when the next read might not fit: each read goes whole into one buffer.
    if (this.batchBytes - this.fill < READ_BYTES) {
      this.ready.push({ index, length: this.fill });
      this.fill = 0;
      const other = 1 - index;
      this.filling = this.held === other || this.ready.some((r) => r.index === other) ? null : other;
    }
    this.notify();
    if (this.filling === null) {
      this.socket?.pause();
      return false;
    }
    return true;
  }

  /** The consumer is done with the batch it held: its buffer is free again. */
  private release(): void {
    const index = this.held;
    if (index === null) return;
    this.held = null;
    if (this.filling === null) {
      this.filling = index;
      this.fill = 0;
      this.socket?.resume();
    }
  }

  private finish(): void {
    this.ended = true;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }
}
