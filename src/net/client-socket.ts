/**
 * Opening a client connection (the outbound SMTP client, the FTP client): TCP or TLS from the
 * first byte, within a time limit, with what went wrong told apart for the caller's reply.
 */
import net from 'node:net';
import tls from 'node:tls';

export interface ClientSocketOptions {
  host: string;
  port: number;
  /** Plain TCP only: the source address to connect from. */
  localAddress?: string;
  /** TLS from the first byte with these options (server name, CA, ...); plain TCP without. */
  implicitTls?: tls.ConnectionOptions;
  timeoutMs: number;
}

/** Why a connection could not be opened: no TCP connection, a failed TLS handshake, or the time limit. */
export class ClientSocketError extends Error {
  constructor(
    readonly kind: 'connect' | 'tls' | 'timeout',
    /** What the socket reported, in words (describeSocketError); empty for 'timeout'. */
    readonly reason: string,
  ) {
    super(kind === 'timeout' ? 'no connection in time' : reason);
  }
}

/** Resolves with the connected socket (handshake done for implicit TLS), no-delay set. */
export function openClientSocket(opts: ClientSocketOptions): Promise<net.Socket | tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = opts.implicitTls
      ? tls.connect({ ...opts.implicitTls, host: opts.host, port: opts.port })
      : net.connect({ host: opts.host, port: opts.port, localAddress: opts.localAddress });
    const event = opts.implicitTls ? 'secureConnect' : 'connect';
    // With implicit TLS an error after the TCP connection is up is a failed handshake.
    let tcpUp = false;
    socket.once('connect', () => (tcpUp = true));
    const done = (err: ClientSocketError | null) => {
      clearTimeout(timer);
      socket.off(event, onConnect);
      socket.off('error', onError);
      if (err) {
        socket.destroy();
        return reject(err);
      }
      socket.setNoDelay(true);
      resolve(socket);
    };
    const onConnect = () => done(null);
    const onError = (err: Error) =>
      done(new ClientSocketError(opts.implicitTls && tcpUp ? 'tls' : 'connect', describeSocketError(err)));
    const timer = setTimeout(() => done(new ClientSocketError('timeout', '')), opts.timeoutMs);
    socket.once(event, onConnect);
    socket.on('error', onError);
  });
}

/** A socket error in words: "connection refused" rather than "connect ECONNREFUSED 127.0.0.1:21". */
export function describeSocketError(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
      return 'connection reset by the server';
    case 'ETIMEDOUT':
      return 'connection timed out';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host name not found';
    default:
      return err.message;
  }
}

/**
 * Waits for the handshake of `secured`, a client-side TLS socket started on a connection that
 * began in the clear (SMTP STARTTLS, FTP AUTH TLS). Resolves once it is done; otherwise
 * destroys it and rejects with why, in words ("TLS handshake failed: ...", "connection closed
 * during the TLS handshake", "TLS handshake not done within N ms"), for the caller's own error.
 */
export function awaitTlsHandshake(secured: tls.TLSSocket, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (reason: string | null) => {
      clearTimeout(timer);
      secured.off('secureConnect', onSecure);
      secured.off('error', onError);
      secured.off('close', onClosed);
      if (reason === null) return resolve();
      secured.destroy();
      reject(new Error(reason));
    };
    const onSecure = () => done(null);
    const onError = (err: Error) => done(`TLS handshake failed: ${describeSocketError(err)}`);
    const onClosed = () => done('connection closed during the TLS handshake');
    const timer = setTimeout(() => done(`TLS handshake not done within ${timeoutMs} ms`), timeoutMs);
    secured.once('secureConnect', onSecure);
    secured.once('error', onError);
    secured.once('close', onClosed);
  });
}
