/**
 * Response bytes to a socket: writes made in one event-loop turn leave together (the socket
 * is corked until the turn ends, so pipelined commands' replies share TCP segments), and a
 * writer that streams a large body waits while the client is not reading.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { ByteSink } from './response-writer.js';

/** Buffered reply bytes above which a streaming writer waits for 'drain'. */
const HIGH_WATER_BYTES = 256 * 1024;

export class SocketSink implements ByteSink {
  private corked = false;
  private ended = false;

  constructor(private readonly socket: Socket | TLSSocket) {}

  write(data: string | Buffer): void {
    if (this.ended || this.socket.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      setImmediate(() => this.flush());
    }
    this.socket.write(data);
  }

  flush(): void {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  }

  async drained(): Promise<void> {
    if (this.socket.writableLength < HIGH_WATER_BYTES || this.socket.destroyed) return;
    this.flush();
    await new Promise<void>((resolve) => {
      const done = () => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
    if (this.socket.destroyed) throw new Error('connection closed');
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.flush();
    if (!this.socket.destroyed) this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), 2000);
    timer.unref();
  }
}
