/**
 * Writes IMAP responses: untagged data, continuation requests and tagged completions, and
 * the pieces of a large FETCH response (literal headers followed by streamed body bytes).
 * It formats only; batching and back-pressure belong to the byte sink underneath.
 */

/** Where response bytes go: the connection's transport. */
export interface ByteSink {
  write(data: string | Buffer): void;
  /** Resolves once the client has read enough of what was written (back-pressure). */
  drained(): Promise<void>;
}

export type Status = 'OK' | 'NO' | 'BAD' | 'PREAUTH' | 'BYE';

export class ResponseWriter {
  constructor(private sink: ByteSink) {}

  /** After STARTTLS the sink changes; responses go to the new one. */
  setSink(sink: ByteSink): void {
    this.sink = sink;
  }

  /** `* <text>` */
  untagged(text: string): void {
    this.sink.write(`* ${text}\r\n`);
  }

  /** `* OK [CODE] text`, and NO/BAD/BYE alike. */
  status(tag: string | null, status: Status, text: string, code?: string): void {
    const c = code ? `[${code}] ` : '';
    this.sink.write(`${tag ?? '*'} ${status} ${c}${text}\r\n`);
  }

  continuation(text = 'Ready'): void {
    this.sink.write(`+ ${text}\r\n`);
  }

  /** Raw bytes that are part of a response being built piece by piece. */
  raw(data: string | Buffer): void {
    this.sink.write(data);
  }

  /** Copies a body stream into the response, waiting for the client while it is slow. */
  async stream(chunks: AsyncIterable<Buffer>): Promise<number> {
    let total = 0;
    for await (const chunk of chunks) {
      this.sink.write(chunk);
      total += chunk.length;
      await this.sink.drained();
    }
    return total;
  }

  drained(): Promise<void> {
    return this.sink.drained();
  }
}
