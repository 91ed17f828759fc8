/**
 * Why an FTP client operation failed. A refusal by the server ('reply') carries the server's
 * own reply, so the command line can show the person exactly what the server said.
 */
import { replyText, type FtpReply } from './reply.js';

export type FtpFailureKind =
  /** The TCP connection (control or data) could not be made. */
  | 'connect'
  /** No (complete) reply, or no data, within the time limit. */
  | 'timeout'
  /** The server closed the connection, or it broke. */
  | 'closed'
  /** The TLS handshake failed (including a certificate that does not verify). */
  | 'tls'
  /** The server sent something that is not FTP. */
  | 'protocol'
  /** The server answered with a reply that ends this step (see `reply`). */
  | 'reply';

export class FtpClientError extends Error {
  constructor(
    readonly kind: FtpFailureKind,
    /** What we were doing: "connect", "greeting", "PASS", "RETR", "data connection", ... */
    readonly stage: string,
    message: string,
    /** The server's reply, for kind 'reply'. */
    readonly reply?: FtpReply,
  ) {
    super(message);
    this.name = 'FtpClientError';
  }

  /** Builds the error for an unexpected reply to `stage`. */
  static refused(stage: string, reply: FtpReply): FtpClientError {
    return new FtpClientError('reply', stage, replyText(reply), reply);
  }
}

export { describeSocketError } from '../../net/client-socket.js';
