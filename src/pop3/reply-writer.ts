import type { Duplex } from 'node:stream';

/** The connection went away while a reply was being written; the session just ends. */
export class ConnectionClosedError extends Error {
  constructor() {
    super('connection closed');
    this.name = 'ConnectionClosedError';
  }
}

/** How long to wait for a peer that closed its side before dropping the connection. */
const CLOSE_LINGER_MS = 5_000;

/**
 * Writes replies to the client socket in batches. The socket is corked on the first write of
 * an event-loop turn and uncorked at the end of it, so the replies to pipelined commands (and
 * the many slices of a byte-stuffed message) leave in a few large packets rather than one
 * small packet each. When the socket's buffer is full, writing waits for 'drain'; a client
 * that stops reading for `stallTimeoutMs` is disconnected.
 */
export class ReplyWriter {
  private corked = false;
  private flushScheduled = false;
  private readonly flushNow = () => {
    this.flushScheduled = false;
    this.flush();
  };

  constructor(
    private readonly socket: Duplex,
    private readonly stallTimeoutMs: number,
  ) {}

  get closed(): boolean {
    return this.socket.destroyed || !this.socket.writable;
  }

  /**
   * Queues bytes. Returns a promise only when the caller must wait (the socket is full);
   * hot loops can then skip an `await` per slice.
   */
  write(data: Buffer | string): Promise<void> | undefined {
    if (this.closed) throw new ConnectionClosedError();
    if (!this.corked) {
      this.socket.cork();
      this.corked = true;
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(this.flushNow);
      }
    }
    if (this.socket.write(data)) return undefined;
    // Corked bytes are never sent, so 'drain' would never come: flush before waiting.
    this.flush();
    return this.drain();
  }

  /** Writes one reply line (CRLF added). */
  async line(text: string): Promise<void> {
    await this.write(text + '\r\n');
  }

  /** Writes a line and waits until it has been handed to the kernel (before STLS). */
  async lineAndWait(text: string): Promise<void> {
    if (this.closed) throw new ConnectionClosedError();
    await new Promise<void>((resolve, reject) => {
      this.socket.write(text + '\r\n', (err) => (err ? reject(new ConnectionClosedError()) : resolve()));
      this.flush();
    });
  }

  /** Sends everything queued now. */
  flush(): void {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  }

  /**
   * Sends a last line (if any) and closes our side. A peer that never closes its side is
   * dropped after a short linger so the session cannot hang around.
   */
  end(lastLine?: string): void {
    this.flush();
    if (this.socket.destroyed) return;
    if (this.socket.writable) {
      if (lastLine !== undefined) this.socket.end(lastLine + '\r\n');
      else this.socket.end();
    }
    setTimeout(() => this.socket.destroy(), CLOSE_LINGER_MS).unref();
  }

  private drain(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const socket = this.socket;
      const done = (err?: Error) => {
        clearTimeout(timer);
        socket.off('drain', onDrain);
        socket.off('close', onClose);
        socket.off('error', onClose);
        if (err) reject(err);
        else resolve();
      };
      const onDrain = () => done();
      const onClose = () => done(new ConnectionClosedError());
      const timer = setTimeout(() => {
        socket.destroy();
        done(new ConnectionClosedError());
      }, this.stallTimeoutMs);
      timer.unref();
      socket.on('drain', onDrain);
      socket.on('close', onClose);
      socket.on('error', onClose);
    });
  }
}
