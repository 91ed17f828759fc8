/**
 * Writes IMAP responses: untagged data, continuation requests and tagged completions, and
 * the pieces of a large FETCH response (literal headers followed by streamed body bytes).
 * It formats only; batching and back-pressure belong to the transport underneath.
 */
import type { WireTransport } from '../net/transport.js';

export type Status = 'OK' | 'NO' | 'BAD' | 'PREAUTH' | 'BYE';

export class ResponseWriter {
  constructor(private readonly transport: WireTransport) {}

  /** `* <text>` */
  untagged(text: string): void {
    this.transport.send(`* ${text}\r\n`);
  }

  /** `* OK [CODE] text`, and NO/BAD/BYE alike. */
  status(tag: string | null, status: Status, text: string, code?: string): void {
    const c = code ? `[${code}] ` : '';
    this.transport.send(`${tag ?? '*'} ${status} ${c}${text}\r\n`);
  }

  continuation(text = 'Ready'): void {
    this.transport.send(`+ ${text}\r\n`);
  }

  /** Bytes that are part of a response being built piece by piece. */
  raw(data: string | Buffer): void {
    this.transport.send(data);
  }

  /** Bytes of a large response: waits while the client is not reading (back-pressure). */
  async rawWait(data: Buffer): Promise<void> {
    const pending = this.transport.write(data);
    if (pending) await pending;
  }

  /** Copies a body stream into the response; returns the bytes written. */
  async stream(chunks: AsyncIterable<Buffer>): Promise<number> {
    let total = 0;
    for await (const chunk of chunks) {
      await this.rawWait(chunk);
      total += chunk.length;
    }
    return total;
  }
}
