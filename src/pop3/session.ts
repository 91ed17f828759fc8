import { LineCommandSession } from '../net/line-command-session.js';
import type { Line } from '../net/line-reader.js';
import { passwordsAllowed } from '../net/password-policy.js';
import { startTls } from '../net/starttls.js';
import { ConnectionClosedError } from '../net/transport.js';
import type { Connection, ServiceContext } from '../net/types.js';
import { authorizationCommands } from './authorization-commands.js';
import { parseCommandLine } from './command-line.js';
import type { Maildrop } from './maildrop.js';
import { transactionCommands } from './transaction-commands.js';

/**
 * The POP3 session states of RFC 1939 section 3. UPDATE is entered by QUIT in TRANSACTION
 * and lasts while the marked messages are removed; 'closed' means the session is ending.
 */
export type Pop3State = 'authorization' | 'transaction' | 'update' | 'closed';

/** A command handler: may reply, change state or close the session. */
export type CommandHandler = (session: Pop3Session, args: string[], rest: string) => Promise<void>;

/**
 * Longest line read. RFC 2449 section 4 limits commands to 255 octets, but AUTH responses
 * (RFC 5034 section 4) can be longer, and lenient parsing costs nothing here.
 */
export const MAX_LINE_BYTES = 1024;

export const GREETING = '+OK Wharf POP3 server ready';
export const SHUTDOWN_REPLY = '-ERR [SYS/TEMP] Server shutting down';
const REPLIES = {
  greeting: GREETING,
  shutdown: SHUTDOWN_REPLY,
  idle: '-ERR Autologout; idle for too long',
  loginTimeout: '-ERR Timeout: not logged in in time',
  lineTooLong: '-ERR Line too long',
  tooManyErrors: '-ERR Too many bad commands, closing connection',
};

/**
 * One POP3 connection: reads a command, runs it, replies, and repeats (pipelined commands
 * queue in the transport and are answered in order, RFC 2449 PIPELINING). Commands live in
 * authorization-commands.ts and transaction-commands.ts; this class holds the state they
 * share and owns every way a session ends, so the maildrop lease is released on all of them.
 */
export class Pop3Session extends LineCommandSession {
  state: Pop3State = 'authorization';
  /** Name given by USER, waiting for PASS. */
  pendingUser: string | null = null;
  /** The locked maildrop, from login on. */
  maildrop: Maildrop | null = null;
  /** The logged-in user's address, for logs. */
  userAddress: string | null = null;
  retrievedCount = 0;
  /** Set by QUIT: the session ended the way RFC 1939 intends (and deleted what was marked). */
  loggedOut = false;

  constructor(ctx: ServiceContext, conn: Connection) {
    super(ctx, conn, {
      protocol: 'pop3',
      maxLineBytes: MAX_LINE_BYTES,
      idleTimeoutMs: ctx.config.pop3.idleTimeoutMs,
      maxErrors: ctx.config.pop3.maxErrors,
      replies: REPLIES,
    });
    this.start();
  }

  protected get loggedInUser(): string | null {
    return this.userAddress;
  }

  /**
   * USER/PASS and AUTH PLAIN send the password as it is: only over TLS, from loopback, or
   * when the operator allowed it (RFC 2595 section 2.3, RFC 8314).
   */
  get plaintextAllowed(): boolean {
    return passwordsAllowed({ secure: this.secure, remoteAddress: this.conn.remoteAddress }, this.ctx.config.auth);
  }

  /**
   * Sends "+OK" to STLS and starts TLS on this connection (RFC 2595 section 4). Commands the
   * client pipelined after STLS were sent in the clear and are dropped unread. False when
   * the handshake failed (the connection is then closed).
   */
  async startTls(goAhead: string): Promise<boolean> {
    this.transport.send(goAhead + '\r\n');
    if (!(await startTls(this.transport, this.ctx.tls, this.ctx.config.pop3.idleTimeoutMs, this.log, 'STLS'))) return false;
    this.pendingUser = null;
    return true;
  }

  /** Enters TRANSACTION with a locked maildrop. */
  beginTransaction(maildrop: Maildrop, address: string): void {
    this.maildrop = maildrop;
    this.userAddress = address;
    this.pendingUser = null;
    this.state = 'transaction';
    this.loggedIn();
  }

  /**
   * Closing deletes nothing; the lease is released at once so a reconnecting client is not
   * told the maildrop is in use.
   */
  protected override onClose(): void {
    this.state = 'closed';
    void this.maildrop?.close();
  }

  /**
   * Shutdown is done once the lease is released too, so a process that exits after shutdown
   * leaves no maildrop locked behind it (close() releases it without waiting).
   */
  protected override closedAndReleased(): Promise<void> {
    return this.transport.closed.then(() => this.maildrop?.close());
  }

  protected async execute(line: Line): Promise<void> {
    const parsed = parseCommandLine(line.bytes);
    if (!parsed.ok) {
      return this.rejectCommand(parsed.reason === 'invalid-bytes' ? '-ERR Invalid characters in command' : '-ERR Unknown command');
    }
    const { keyword, args, rest } = parsed.command;
    const table = this.state === 'authorization' ? authorizationCommands : transactionCommands;
    const handler = table.get(keyword);
    if (!handler) {
      if (this.state === 'authorization' && transactionCommands.has(keyword)) {
        return this.rejectCommand('-ERR Not logged in');
      }
      if (this.state === 'transaction' && authorizationCommands.has(keyword)) {
        return this.rejectCommand('-ERR Already logged in');
      }
      return this.rejectCommand('-ERR Unknown command');
    }
    try {
      await handler(this, args, rest);
    } catch (err) {
      // Handlers reply to their own expected failures; what reaches here is the store or the
      // socket failing. A multi-line reply cut short cannot be repaired, so handlers that
      // stream close the connection themselves and throw ConnectionClosedError.
      if (err instanceof ConnectionClosedError || this.transport.isClosing) throw err;
      this.log.error('command failed', { command: keyword, error: err as Error });
      await this.reply('-ERR [SYS/TEMP] Internal server error, try again later');
    }
  }

  /** Every way the session ends comes here: the lease is released. */
  protected async release(): Promise<void> {
    if (this.maildrop && !this.loggedOut) {
      // RFC 1939 section 6: without QUIT there is no UPDATE state, so nothing is deleted.
      this.log.info('session ended without QUIT; no messages deleted', { user: this.userAddress });
    }
    this.state = 'closed';
    await this.maildrop?.close();
  }
}
