/**
 * One data connection: TCP to the passive port, then (with PROT P) TLS that resumes the
 * control connection's session. The TLS handshake is started at once but only completes once
 * the server has accepted the transfer command: servers start their side of the handshake
 * after the 150 reply, and the ClientHello waits in their buffer meanwhile.
 */
import net from 'node:net';
import tls from 'node:tls';
import { describeSocketError, FtpClientError } from './errors.js';
import { tlsTarget } from './control.js';

export interface DataTarget {
  address: string;
  port: number;
  /** The host name of the control connection, for the certificate check. */
  host: string;
  timeoutMs: number;
  /** PROT P: TLS with these options and this session to resume. */
  tls?: tls.ConnectionOptions;
  session?: Buffer;
}

export interface DataConnection {
  /** The stream to read from or write to (the TLS socket with PROT P). */
  socket: net.Socket | tls.TLSSocket;
  /** Resolves once TLS is up (at once without TLS); rejects when the handshake fails. */
  ready: Promise<void>;
  /** Whether the TLS session was resumed (false without TLS). */
  reused(): boolean;
}

/** Connects; resolves once TCP is up, with TLS (if any) begun. */
export function openDataConnection(target: DataTarget): Promise<DataConnection> {
  return new Promise((resolve, reject) => {
    const raw = net.connect({ host: target.address, port: target.port });
    const timer = setTimeout(() => {
      raw.destroy();
      reject(new FtpClientError('connect', 'data connection', `no data connection to port ${target.port} within ${Math.round(target.timeoutMs / 1000)} s`));
    }, target.timeoutMs);
    raw.once('error', (err) => {
      clearTimeout(timer);
      reject(new FtpClientError('connect', 'data connection', `cannot open the data connection to port ${target.port}: ${describeSocketError(err)}`));
    });
    raw.once('connect', () => {
      clearTimeout(timer);
      raw.removeAllListeners('error');
      raw.on('error', () => {});
      if (!target.tls) {
        resolve({ socket: raw, ready: Promise.resolve(), reused: () => false });
        return;
      }
      const secured = tls.connect({ ...tlsTarget(target.host, target.tls), socket: raw, session: target.session });
      const ready = new Promise<void>((res, rej) => {
        const onError = (err: Error) => rej(new FtpClientError('tls', 'data connection', `TLS handshake on the data connection failed: ${describeSocketError(err)}`));
        secured.once('error', onError);
        secured.once('secureConnect', () => {
          secured.off('error', onError);
          res();
        });
      });
      // Whoever awaits `ready` sees the failure; an unawaited one must not crash the process.
      ready.catch(() => {});
      secured.on('error', () => {});
      resolve({ socket: secured, ready, reused: () => secured.isSessionReused() });
    });
  });
}
