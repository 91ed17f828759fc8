/**
 * The upgrade to TLS on a connection that began in the clear, as every line protocol here does
 * it (SMTP STARTTLS, POP3 STLS, IMAP STARTTLS, FTP AUTH TLS): the caller's go-ahead reply goes
 * out first, the handshake gets the session's idle time but never more than
 * TLS_HANDSHAKE_TIMEOUT_MS, and input the client pipelined in the clear is dropped
 * (WireTransport.upgradeToTls says why) and logged under the command's name.
 */
import { TLS_HANDSHAKE_TIMEOUT_MS, type WireTransport } from './transport.js';
import type { Logger, TlsMaterial } from './types.js';

/** True once the connection is TLS; false when the handshake failed (the connection is then closed). */
export async function startTls(
  transport: WireTransport,
  material: TlsMaterial,
  idleTimeoutMs: number,
  log: Logger,
  command: string,
): Promise<boolean> {
  const dropped = await transport.upgradeToTls(material, Math.min(idleTimeoutMs, TLS_HANDSHAKE_TIMEOUT_MS));
  if (dropped === null) {
    log.info('tls handshake failed');
    return false;
  }
  if (dropped > 0) log.warn(`discarded input pipelined after ${command}`, { bytes: dropped });
  log.info('tls started');
  return true;
}
