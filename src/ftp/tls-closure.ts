/**
 * Whether a PROT P upload was ended by the client's TLS close_notify or only by a TCP close.
 *
 * Why: stream mode has no end-of-file marker, so a plain upload that stops could be a whole
 * file or a client killed in the middle; the upload then waits `ftp.uploadCloseGraceMs` to
 * see whether the control connection goes too (letControlCatchUp, data-transfer.ts). Over
 * TLS the end can be told apart: a client closing normally sends close_notify before its TCP
 * FIN (curl, Python's ftplib and lftp do), while a killed client's kernel sends the FIN alone,
 * and "if a transport-level close is received prior to a close_notify, the receiver cannot
 * know that all the data that was sent has been received" (RFC 8446 section 6.1). A
 * close_notify is authenticated, so nobody on the path can forge it, and the upload it ends
 * needs no wait. An upload ended without one is handled as a plain one, grace included.
 *
 * Node's TLS socket emits the same 'end' either way, so the TCP connection is read through a
 * stream of our own (TLS then runs over it), which knows whether it has handed TLS the TCP end:
 * a TLS that ended before that was ended by a close_notify.
 *
 * The price: the encrypted bytes take a trip through JavaScript. Measured with a 1 GiB upload
 * (see bench/ftp/README.md), which is why only uploads are read this way.
 */
import type net from 'node:net';
import { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';

/** Watched connections, and whether their TCP end has been handed to TLS. */
const watches = new WeakMap<TLSSocket, { tcpEndDelivered: boolean }>();

/**
 * True when `socket` is a watched TLS data connection whose cleartext has ended while its TCP
 * end had not reached TLS: only a close_notify ends TLS then. (After a close_notify TLS stops
 * reading, so the TCP end that follows is never handed to it.)
 */
export function endedWithCloseNotify(socket: unknown): boolean {
  const watch = watches.get(socket as TLSSocket);
  return watch !== undefined && !watch.tcpEndDelivered && tlsReadEnded(socket as TLSSocket);
}

/**
 * The TCP connection `raw` as a stream for TLS to run over; call `watch` with the TLS socket
 * made over it. A paused `raw` (pauseOnConnect) is resumed when TLS first reads.
 */
export function closureWatchedTransport(raw: net.Socket): { transport: Duplex; watch: (secured: TLSSocket) => void } {
  // Half-open: this stream's writing side ends when TLS ends it (after its close_notify), not
  // when the client's bytes end.
  const transport = new Duplex({
    read() {
      raw.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      // The client may have closed already (curl sends its FIN with its close_notify): what TLS
      // still has to say goes nowhere, and that is no error of the upload's.
      if (raw.destroyed || raw.writableEnded) callback();
      else raw.write(chunk, callback);
    },
    final(callback) {
      raw.end();
      callback();
    },
    destroy(err, callback) {
      raw.destroy();
      callback(err);
    },
  });
  raw.on('data', (chunk: Buffer) => {
    if (!transport.push(chunk)) raw.pause();
  });
  raw.on('end', () => transport.push(null));
  raw.on('error', (err) => transport.destroy(err));
  raw.on('close', () => transport.destroy());
  const watch = { tcpEndDelivered: false };
  // Runs just before TLS hears of the TCP end (its listener was added first, when the TLS
  // socket was made).
  transport.prependOnceListener('end', () => {
    watch.tcpEndDelivered = true;
  });
  return {
    transport,
    watch: (socket) => {
      watches.set(socket, watch);
      // TLS takes half-openness from the stream it runs over; like over a TCP socket, it ends
      // its side when the client's data ends: its own close_notify, which a client such as
      // Python's ftplib waits for before it reads the 226.
      socket.allowHalfOpen = false;
    },
  };
}

/**
 * Whether TLS has pushed the end of its cleartext: the readable state's `ended`, which Node has
 * set since its first streams; 'end' itself waits until the reader has taken every byte. Were
 * the field gone, this says false, and uploads fall back to the grace wait.
 */
function tlsReadEnded(socket: TLSSocket): boolean {
  const state = (socket as unknown as { _readableState?: { ended?: unknown } })._readableState;
  return state?.ended === true;
}
