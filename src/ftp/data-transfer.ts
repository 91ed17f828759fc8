/**
 * Moving bytes over a data connection for one transfer: opening it (the 150 reply comes once
 * it is there, TLS follows for PROT P), sending with back-pressure, closing it so the client
 * saw every byte before the 226, and telling what went wrong in RFC 959's words.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { DataConnectionError, PassiveEndpoint, secureDataConnection, type DataSetup } from './data-channel.js';
import type { FtpSession, Transfer } from './session.js';
import type { UploadReader } from './upload-reader.js';

export type DataSocket = Socket | TLSSocket;

/** The data connection failed under a transfer; `reply` says how (426 on the wire). */
export class DataInterruptedError extends Error {
  constructor(readonly reply: string) {
    super(reply);
    this.name = 'DataInterruptedError';
  }
}

const ABORTED = '426 Connection closed; transfer aborted';
const IDLE = '426 Data connection idle too long; transfer aborted';

/**
 * Opens the data connection for `transfer` from `setup`, sends `preliminary` (150) and puts
 * TLS on it when the client asked for PROT P. Replies the error and returns null when it
 * cannot (425 no connection, 426 aborted, 522 TLS session not resumed). `setup` is closed
 * on every path. An upload passes its `reader`: a plain connection is then read through it
 * (see upload-reader.ts; `reader.reads(socket)` tells).
 */
export async function openDataConnection(
  session: FtpSession,
  transfer: Transfer,
  setup: DataSetup,
  preliminary: string,
  reader?: UploadReader,
): Promise<DataSocket | null> {
  const { ftp } = session.ctx.config;
  const plainReader = session.protectData ? undefined : reader;
  let socket: DataSocket | null = null;
  try {
    if (setup instanceof PassiveEndpoint) {
      socket = await setup.accept(ftp.dataConnectTimeoutMs, transfer.signal);
      if (plainReader) socket = plainReader.adopt(socket) ?? socket;
    } else {
      socket = await setup.connect(session.conn.localAddress, ftp.dataConnectTimeoutMs, transfer.signal, plainReader);
    }
    await session.reply(preliminary);
    if (session.protectData) {
      const upload = reader !== undefined;
      socket = await secureDataConnection(socket, session.services.dataTlsOptions(session.conn), ftp.dataConnectTimeoutMs, transfer.signal, upload);
    }
    if (transfer.aborted) throw new DataConnectionError(ABORTED);
    const open = socket;
    open.setTimeout(ftp.dataIdleTimeoutMs, () => open.destroy(new DataInterruptedError(IDLE)));
    // ABOR (or the session ending) closes the data connection at once, whatever the transfer
    // is waiting for: a client that stopped sending must not hold an upload open.
    const onAbort = () => open.destroy();
    transfer.signal.addEventListener('abort', onAbort, { once: true });
    open.once('close', () => transfer.signal.removeEventListener('abort', onAbort));
    return open;
  } catch (err) {
    socket?.destroy();
    if (!(err instanceof DataConnectionError)) throw err;
    await session.reply(err.reply);
    return null;
  } finally {
    setup.close();
  }
}

/** The reply for a failed data connection: its own reason, or 426. */
export function interruptionReply(err: unknown, transfer: Transfer): string | null {
  if (transfer.aborted) return ABORTED;
  if (err instanceof DataInterruptedError) return err.reply;
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof DataInterruptedError) return cause.reply;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (code.startsWith('ERR_STREAM') || code.startsWith('EC') || code === 'EPIPE' || code.startsWith('ERR_SSL'))) return ABORTED;
  return null;
}

/** Writes a chunk, waiting while the client is slower than the file (back-pressure). */
export async function writeData(socket: DataSocket, chunk: Buffer, transfer: Transfer): Promise<void> {
  if (transfer.aborted) throw new DataInterruptedError(ABORTED);
  if (socket.destroyed) throw new DataInterruptedError(ABORTED);
  if (socket.write(chunk)) return;
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      socket.off('drain', onDrain);
      socket.off('close', onClose);
      transfer.signal.removeEventListener('abort', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(socket.errored ?? new DataInterruptedError(ABORTED));
    socket.on('drain', onDrain);
    socket.on('close', onClose);
    transfer.signal.addEventListener('abort', onClose, { once: true });
  });
}

/**
 * Ends the data connection after the last byte (the end of file in stream mode) and waits
 * until the client closed its side too: then it has read everything, and 226 is true.
 */
export async function finishSending(socket: DataSocket, transfer: Transfer): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onClose = () => {
      transfer.signal.removeEventListener('abort', onAbort);
      if (transfer.aborted) reject(new DataInterruptedError(ABORTED));
      else if (socket.errored && !socket.writableFinished) reject(socket.errored);
      else resolve();
    };
    const onAbort = () => socket.destroy();
    socket.once('close', onClose);
    transfer.signal.addEventListener('abort', onAbort, { once: true });
    // Read and drop what the client might send, so its close is seen. (A passive connection
    // starts paused, and a 'data' listener alone does not resume a paused stream.)
    socket.on('data', () => {});
    socket.resume();
    socket.end();
  });
}

/** Closes a data connection at once (errors, aborts). */
export function dropData(socket: DataSocket | null): void {
  socket?.destroy();
}

/** Bytes of an upload gathered into one store write (fewer, larger writes to the disk). */
export const UPLOAD_BATCH_BYTES = 1024 * 1024;
/**
 * Below this, a batch of several chunks is joined into a new buffer rather than the reused one:
 * a small upload (one of many small files) never makes the 1 MiB buffer.
 */
const SMALL_BATCH_BYTES = 64 * 1024;

/**
 * The bytes of a data connection in batches of up to UPLOAD_BATCH_BYTES: whatever arrived
 * while the previous batch was being written. The socket is paused while a full batch waits,
 * so a fast client cannot fill our memory. Ends at the end of the data; throws the socket's
 * error (an idle timeout, a reset).
 *
 * A batch is valid only until the next one is asked for: the chunks of a large batch are
 * copied into one buffer that is reused for the next batch (the consumer must be done with
 * it, e.g. a FileUpload.write that settled). A new buffer per batch, at hundreds of MB/s,
 * kept V8's collector marking the whole heap several times a second. A batch that is one
 * chunk of the socket is that chunk itself.
 */
export async function* dataBatches(socket: DataSocket, batchBytes = UPLOAD_BATCH_BYTES): AsyncGenerator<Buffer> {
  let chunks: Buffer[] = [];
  let size = 0;
  let ended = false;
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  /** The buffer large batches are joined in, made when first needed. */
  let joined: Buffer | null = null;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const onData = (chunk: Buffer) => {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= batchBytes) socket.pause();
    notify();
  };
  const onEnd = () => {
    ended = true;
    notify();
  };
  const onError = (err: Error) => {
    failure = err;
    notify();
  };
  socket.on('data', onData);
  socket.once('end', onEnd);
  socket.once('close', onEnd);
  socket.once('error', onError);
  // A passive connection starts paused (see PassiveEndpoint.open).
  socket.resume();
  try {
    for (;;) {
      if (failure) throw failure;
      if (size > 0) {
        let batch: Buffer;
        if (chunks.length === 1 && size <= batchBytes) {
          batch = chunks[0]!;
          chunks = [];
          size = 0;
        } else if (size <= SMALL_BATCH_BYTES) {
          batch = Buffer.concat(chunks, size);
          chunks = [];
          size = 0;
        } else {
          joined ??= Buffer.allocUnsafe(batchBytes);
          batch = takeInto(joined, chunks);
          size -= batch.length;
        }
        if (size < batchBytes) socket.resume();
        yield batch;
        continue;
      }
      if (ended) {
        // A socket destroyed with an error emits 'error' before 'close'.
        if (socket.errored) throw socket.errored;
        return;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.off('close', onEnd);
    socket.off('error', onError);
  }
}

/**
 * Copies the first chunks of `chunks` into `target`, as many bytes as fit, and removes them
 * (a chunk that fits in part stays, as the part after what was copied); returns the part of
 * `target` filled.
 */
export function takeInto(target: Buffer, chunks: Buffer[]): Buffer {
  let filled = 0;
  let used = 0;
  while (used < chunks.length && filled < target.length) {
    const chunk = chunks[used]!;
    const n = chunk.copy(target, filled);
    filled += n;
    if (n < chunk.length) {
      chunks[used] = chunk.subarray(n);
      break;
    }
    used++;
  }
  chunks.splice(0, used);
  return target.subarray(0, filled);
}

/**
 * Gives the control connection its chance to end (the session then aborts `transfer`) while
 * `synced` (the upload's bytes going to disk) runs: waits for it, for `graceMs` when set, and
 * then for one more poll of the sockets, so a dead client's upload is given up instead of
 * committed.
 *
 * Why: a client killed in the middle of an upload closes the data connection as if the file
 * were complete (stream mode has no other end marker), and its control connection at about the
 * same time; a client that finished normally keeps its control connection open for the 226.
 * The two FINs of a killed client were seen 2 to 6 ms apart, in either order, on an idle
 * machine (a Python client killed with SIGKILL), and further apart under load. Without the
 * wait, 1 in 100 Python clients killed with the CPU oversubscribed left its partial file
 * committed; with 5 ms, none of 150 did. Measured again later, with three busy loops on two
 * cores: without the wait 26 of 150 killed clients left their partial file, with 25 ms none
 * of 150 (under strace the server read the data connection's end first, then the control
 * connection's 0.5 to 1 ms later; a loaded scheduler can hold the dying client between its
 * two closes for longer). `ftp.uploadCloseGraceMs` is 25 ms by default.
 */
export async function letControlCatchUp(transfer: Transfer, synced: Promise<void>, graceMs: number): Promise<void> {
  const grace =
    graceMs > 0 && !transfer.aborted
      ? new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            transfer.signal.removeEventListener('abort', done);
            resolve();
          };
          const timer = setTimeout(done, graceMs);
          transfer.signal.addEventListener('abort', done, { once: true });
        })
      : undefined;
  await Promise.all([synced, grace]);
  // setImmediate runs after the event loop's next poll for I/O: a FIN already here is read.
  await new Promise<void>((resolve) => setImmediate(resolve));
}
