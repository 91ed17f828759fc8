/**
 * Why an SMTP conversation failed outside of a reply that says so. Every kind is a temporary
 * failure for the message: the same host may work later, or the next MX may work now.
 */
import type { SmtpReply } from './reply.js';
import { replyText } from './reply.js';

export type FailureKind =
  /** The TCP connection could not be made (refused, unreachable, timed out). */
  | 'connect'
  /** No (complete) reply within the command timeout. */
  | 'timeout'
  /** The server closed the connection, or it broke. */
  | 'closed'
  /** The TLS handshake failed (including a certificate that does not verify). */
  | 'tls'
  /** TLS is required by policy and the server does not offer it. */
  | 'tls-required'
  /** The server sent something that is not SMTP. */
  | 'protocol'
  /** The server answered with a reply that ends this step (see `reply`). */
  | 'reply'
  /** The caller gave up (shutdown). */
  | 'aborted';

export class SmtpClientError extends Error {
  constructor(
    readonly kind: FailureKind,
    /** What we were doing: "connect", "greeting", "EHLO", "RCPT", "DATA", "end of data", ... */
    readonly stage: string,
    message: string,
    /** The server's reply, for kind 'reply'. */
    readonly reply?: SmtpReply,
  ) {
    super(message);
    this.name = 'SmtpClientError';
  }

  /** A 5xx reply: the server said no for good. Everything else may work another time. */
  get permanent(): boolean {
    return this.kind === 'reply' && this.reply !== undefined && this.reply.code >= 500;
  }
}

/**
 * The one-line reply recorded for a failure: the server's own reply when it gave one, else our
 * words with a temporary code (RFC 3463: 4.4.1 no answer, 4.4.2 bad connection, 4.7.5
 * cryptographic failure, 4.7.4 security features not supported, 4.5.0 protocol error).
 */
export function failureReply(err: unknown, host: string): string {
  if (!(err instanceof SmtpClientError)) {
    return `451 4.3.0 ${host}: ${err instanceof Error ? err.message : String(err)}`;
  }
  switch (err.kind) {
    case 'reply':
      return err.reply ? replyText(err.reply) : `451 4.3.0 ${host}: ${err.message}`;
    case 'connect':
      return `451 4.4.1 ${host}: ${err.message}`;
    case 'timeout':
    case 'closed':
      return `451 4.4.2 ${host}: ${err.message}`;
    case 'tls':
      return `451 4.7.5 ${host}: ${err.message}`;
    case 'tls-required':
      return `451 4.7.4 ${host}: ${err.message}`;
    case 'protocol':
      return `451 4.5.0 ${host}: ${err.message}`;
    case 'aborted':
      return `451 4.3.2 ${host}: ${err.message}`;
  }
}
