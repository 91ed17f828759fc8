/**
 * Session tickets that are renewed when used, so a client that resumes a session gets a fresh
 * ticket for its next connection.
 *
 * Why: an FTPS client opens a data connection per transfer, each resuming the control
 * connection's session (RFC 4217 section 10.2; data-channel.ts refuses one that does not).
 * curl 7.88 over TLS 1.3 offers, on its next data connection, only a ticket that came on the
 * last one; Node's TLS server sends none on a resumed handshake (its built-in ticket callback
 * never asks OpenSSL to renew), so every transfer after the first was refused with 522.
 * OpenSSL servers (vsftpd) renew, and curl works with them.
 *
 * Why it is off by default (TlsConfig.renewTickets): Python's ssl module (OpenSSL 3.0) fails
 * to close a TLS 1.3 connection on which a ticket came after the handshake ("shutdown while in
 * init"), so ftplib's FTP_TLS, resuming its control session, fails every download and listing
 * against a server that renews; it does against vsftpd too. curl with the default settings
 * works when it makes one transfer per run, and with `--tls-max 1.2` always.
 *
 * How: OpenSSL renews a ticket when the ticket key callback returns 2 on decryption
 * (SSL_CTX_set_tlsext_ticket_key_cb). Node has such a callback on its native secure context,
 * `enableTicketKeyCallback` with `onticketkeycallback`, undocumented (Node's own test of ticket
 * renewal uses it). Where a Node lacks it, contexts keep Node's behaviour: resumption works,
 * without renewal.
 *
 * The keys are the ones every context of the process shares (`ticketKeys`, 48 bytes: a 16-byte
 * key name, a 16-byte HMAC-SHA256 key, a 16-byte AES-128-CBC key), the layout Node's own
 * callback uses, so tickets issued before and after this is enabled are the same kind.
 */
import { randomBytes } from 'node:crypto';
import type { SecureContext, Server as TlsServer } from 'node:tls';

/** What OpenSSL does with a ticket, as the callback's first return value. */
const TICKET_IGNORE = 0;
const TICKET_ACCEPT = 1;
const TICKET_ACCEPT_AND_RENEW = 2;

type TicketKeyCallback = (name: Buffer, iv: Buffer, encrypting: boolean) => [number, Buffer, Buffer, Buffer?, Buffer?];

/** The native secure context behind a `tls.SecureContext`, with the hook this module uses. */
interface NativeContext {
  enableTicketKeyCallback?: () => void;
  onticketkeycallback?: TicketKeyCallback;
}

/**
 * Makes `context` issue tickets under `ticketKeys` and renew each ticket it accepts. Returns
 * false (and leaves the context alone) when this Node has no ticket key callback.
 */
export function renewTicketsOnResumption(context: SecureContext, ticketKeys: Buffer): boolean {
  if (ticketKeys.length !== 48) throw new Error('ticket keys are 48 bytes');
  const native = (context as unknown as { context?: NativeContext }).context;
  if (!native || typeof native.enableTicketKeyCallback !== 'function') return false;
  const name = ticketKeys.subarray(0, 16);
  const hmac = ticketKeys.subarray(16, 32);
  const aes = ticketKeys.subarray(32, 48);
  native.onticketkeycallback = (ticketName, _iv, encrypting) => {
    if (encrypting) return [TICKET_ACCEPT, hmac, aes, name, randomBytes(16)];
    // A ticket under other keys (an earlier process's): a full handshake instead.
    if (!ticketName.equals(name)) return [TICKET_IGNORE, hmac, aes];
    return [TICKET_ACCEPT_AND_RENEW, hmac, aes];
  };
  native.enableTicketKeyCallback();
  return true;
}

/** The same for a TLS listener's own context, which Node builds from the listener's options. */
export function renewListenerTickets(server: TlsServer, ticketKeys: Buffer): boolean {
  const shared = (server as unknown as { _sharedCreds?: SecureContext })._sharedCreds;
  return shared ? renewTicketsOnResumption(shared, ticketKeys) : false;
}
