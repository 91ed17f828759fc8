/**
 * The SMTP session state machine (RFC 5321 4.1.4): greeting, then one command at a time in
 * the order received (which is what makes PIPELINING, RFC 2920, work), with the session
 * limits (errors, idle and transaction time, shutdown). The commands themselves live in
 * commands/; the bytes on the wire in net/transport.ts (shared with the other protocols).
 */
import { isAscii } from 'node:buffer';
import { checkSharedQuota } from './quota.js';
import type { Line } from '../net/line-reader.js';
import { passwordsAllowed } from '../net/password-policy.js';
import { TIMED_OUT, WireTransport } from '../net/transport.js';
import type { Connection, ServiceContext, Session } from '../net/types.js';
import { StoreError } from '../store/types.js';
import { storeFailureKind } from '../store/failure.js';
import { COMMANDS } from './commands/index.js';
import { inboundVerdict, mxSink, screenClient } from './inbound/index.js';
import { MessageRefused, MessageSink } from './message-sink.js';
import { Replies, formatReply, replyCode } from './reply.js';
import { submissionDelivery, submissionSink } from './submission/index.js';
import { traceHeaders } from './trace.js';
import type { Transaction } from './transaction.js';

export type SmtpMode = 'mx' | 'submission';

/** How many bytes of a message are read from the client at a time. */
const READ_CHUNK_BYTES = 64 * 1024;

const utf8 = new TextDecoder('utf-8', { fatal: true });

export class SmtpSession implements Session {
  readonly transport: WireTransport;
  readonly host: string;
  /** HELO/EHLO argument; null until the client introduced itself (and again after STARTTLS). */
  helo: string | null = null;
  /** True after EHLO (extensions may be used), false after HELO. */
  esmtp = false;
  /** The authenticated user (submission). */
  auth: { userId: number; address: string } | null = null;
  /** The mail transaction in progress. */
  txn: Transaction | null = null;
  /** RCPT TO for local addresses that do not exist, this session (harvesting, on the MX port). */
  unknownRecipients = 0;
  /** Verb of the command being handled (for logs). */
  private verb = '';
  private errors = 0;
  private shuttingDown = false;
  private graceTimer: NodeJS.Timeout | null = null;
  private readonly ended: Promise<void>;

  constructor(
    readonly ctx: ServiceContext,
    readonly mode: SmtpMode,
    readonly conn: Connection,
  ) {
    this.host = ctx.config.hostname;
    this.transport = new WireTransport(conn.socket, {
      maxLineBytes: ctx.config.smtp.maxLineBytes,
      secure: conn.secure,
      stallTimeoutMs: ctx.config.smtp.idleTimeoutMs,
    });
    // Submission: log in within limits.loginTimeoutMs. The MX port has no login; there RFC
    // 5321 4.5.3.2.7's server timeout (smtp.idleTimeoutMs, 5 minutes) applies to each command,
    // and the transaction and command deadlines to a message (see readBytes).
    if (mode === 'submission') this.transport.deadlines.set('login', ctx.config.limits.loginTimeoutMs);
    this.ended = this.run().catch((err: unknown) => {
      this.conn.log.error('session failed', { error: err instanceof Error ? err : String(err) });
      this.transport.destroy();
    });
  }

  get log() {
    return this.conn.log;
  }

  get config() {
    return this.ctx.config;
  }

  /** RFC 4954 14 / RFC 8314: passwords only over TLS, unless loopback or explicitly allowed. */
  authAllowed(): boolean {
    return passwordsAllowed({ secure: this.transport.secure, remoteAddress: this.conn.remoteAddress }, this.config.auth);
  }

  // ---- replies -----------------------------------------------------------------------------

  /** Sends a reply; rejections (4xx/5xx) are logged with their code. */
  reply(text: string): void {
    const code = replyCode(text);
    if (code >= 400) this.log.info('rejected', { command: this.verb, code, reply: text.trimEnd().slice(4, 120) });
    this.transport.send(text);
  }

  /**
   * Replies to a protocol error (bad syntax, bad sequence). Enough of them end the session:
   * a client that makes that many is broken or probing.
   */
  error(text: string): void {
    this.reply(text);
    this.errors++;
    if (this.errors >= this.config.smtp.maxErrors) {
      this.log.warn('too many errors', { errors: this.errors });
      this.terminate(Replies.tooManyErrors(this.host));
    }
  }

  /** Sends a last reply and closes the connection. */
  terminate(lastReply: string): void {
    if (this.transport.isClosing) return;
    if (replyCode(lastReply) >= 400) this.log.info('closing', { reply: lastReply.trimEnd() });
    this.transport.close(lastReply);
  }

  // ---- reading -----------------------------------------------------------------------------

  /** How long the next read may wait: the idle limit, or less when the transaction runs out. */
  private readTimeout(): number {
    const idle = this.config.smtp.idleTimeoutMs;
    if (!this.txn) return idle;
    return Math.min(idle, this.txn.startedAt + this.config.smtp.transactionTimeoutMs - Date.now());
  }

  private timedOut(): null {
    const stage = this.transport.expiredDeadline() ?? (this.txn ? 'transaction' : 'idle');
    this.log.info('timeout', { stage, inTransaction: this.txn !== null });
    this.terminate(Replies.timeout(this.host));
    return null;
  }

  /** Next command line (or AUTH response line); null when the session is over. */
  async readLine(): Promise<Line | null> {
    if (this.auth) this.transport.deadlines.clear('login');
    // A message body read before this line is complete: its deadline is over.
    this.transport.deadlines.clear('command');
    const timeout = this.readTimeout();
    if (timeout <= 0) return this.timedOut();
    const line = await this.transport.readLine(timeout);
    return line === TIMED_OUT ? this.timedOut() : line;
  }

  /**
   * Up to `max` message bytes; null when the session is over (client gone, timeout, shutdown).
   * The first read after a command line starts the body's own deadline
   * (limits.commandTimeoutMs): the idle limit restarts with every chunk, this one does not.
   */
  async readBytes(max = READ_CHUNK_BYTES): Promise<Buffer | null> {
    if (!this.transport.deadlines.has('command')) this.transport.deadlines.set('command', this.config.limits.commandTimeoutMs);
    const timeout = this.readTimeout();
    if (timeout <= 0) return this.timedOut();
    const bytes = await this.transport.readBytes(max, timeout);
    return bytes === TIMED_OUT ? this.timedOut() : bytes;
  }

  // ---- transactions ------------------------------------------------------------------------

  beginTransaction(txn: Transaction): void {
    this.txn = txn;
  }

  /** Ends the transaction (delivered, failed or reset); an unfinished BDAT body is discarded. */
  async endTransaction(): Promise<void> {
    const txn = this.txn;
    this.txn = null;
    if (txn?.chunked) await txn.chunked.abort();
  }

  /** Starts receiving the message of the current transaction. */
  createSink(txn: Transaction): MessageSink {
    const trace = traceHeaders({
      mailFrom: txn.mailFrom,
      helo: this.helo ?? '',
      clientIp: this.conn.remoteAddress,
      hostname: this.host,
      protocol: {
        esmtp: this.esmtp,
        tls: this.transport.secure,
        authenticated: this.auth !== null,
        smtputf8: txn.smtputf8,
      },
      queueId: txn.queueId,
      recipients: txn.recipients,
      date: new Date(),
    });
    if (this.mode === 'submission' && this.auth) return submissionSink(this, this.auth, trace);
    if (this.mode === 'mx') return mxSink(this, txn, trace);
    return new MessageSink(this.ctx.store, trace, this.config.smtp.maxMessageBytes);
  }

  /**
   * The end of a message (DATA's end marker or BDAT LAST): store it for every recipient and
   * only then say 250, since the store resolves once the message is on disk.
   */
  async deliverMessage(txn: Transaction, sink: MessageSink): Promise<void> {
    try {
      if (sink.tooBig) {
        this.log.info('message too big', { queueId: txn.queueId, size: sink.size });
        this.reply(Replies.messageTooBig);
        return;
      }
      if (sink.refusal) throw new MessageRefused(sink.refusal);
      if (sink.failure) throw sink.failure;
      const { body, headers } = await sink.finish();
      // The sender's DMARC policy (MX port): refused, or filed as junk.
      const verdict = inboundVerdict(sink);
      if (verdict?.action === 'reject') {
        await sink.abort();
        this.reply(verdict.reply);
        return;
      }
      await checkSharedQuota(this, txn.quotaUserIds, sink.size);
      const result = await this.ctx.store.deliver({
        body,
        internalDate: new Date(),
        headers,
        envelope: { mailFrom: txn.mailFrom, rcptTo: [...txn.recipients] },
        userIds: [...txn.userIds],
        folder: verdict?.action === 'junk' ? 'junk' : undefined,
        ...(this.mode === 'submission' && this.auth ? await submissionDelivery(this, this.auth, txn, sink) : {}),
      });
      this.log.info('delivered', {
        queueId: txn.queueId,
        messageId: result.messageId,
        size: sink.size,
        recipients: txn.recipients.length,
        outboundQueueId: result.queueId ?? undefined,
      });
      this.reply(Replies.queued(txn.queueId));
    } catch (err) {
      await sink.abort();
      if (err instanceof MessageRefused) {
        this.reply(err.reply);
      } else if (err instanceof StoreError && err.code === 'quota') {
        this.reply(formatReply(452, '4.2.2 Mailbox full'));
      } else {
        this.log.error('delivery failed', { queueId: txn.queueId, error: err instanceof Error ? err : String(err) });
        // Nothing was acknowledged: the client keeps the message and tries again later.
        this.reply(storeFailureKind(err) === 'no-space' ? Replies.storageFull : Replies.deliveryFailed);
      }
    } finally {
      if (this.txn === txn) this.txn = null;
    }
  }

  /** After STARTTLS the client starts over (RFC 3207 4.2): forget everything it told us. */
  async resetAfterTls(): Promise<void> {
    await this.endTransaction();
    this.helo = null;
    this.esmtp = false;
    this.auth = null;
  }

  // ---- the command loop --------------------------------------------------------------------

  private async run(): Promise<void> {
    try {
      // MX: blocklists, greeting delay and early talkers before the greeting.
      const refusal = this.mode === 'mx' ? await screenClient(this) : null;
      if (refusal) return this.terminate(refusal);
      this.transport.send(Replies.greeting(this.host));
      while (!this.transport.isClosing) {
        if (this.shuttingDown && !this.txn) {
          this.terminate(Replies.shuttingDown(this.host));
          break;
        }
        const line = await this.readLine();
        if (!line) break;
        await this.handleLine(line);
        // An over-long line read by a command (an AUTH response) ends the session too.
        if (this.transport.overlongLines > 0) this.terminate(Replies.lineTooLong);
      }
    } finally {
      // The client left or we closed: whatever was not delivered is dropped.
      if (this.txn) {
        this.log.info('transaction abandoned', { queueId: this.txn.queueId });
        await this.endTransaction();
      }
      if (this.graceTimer) clearTimeout(this.graceTimer);
      if (!this.transport.isClosing) this.transport.close();
    }
  }

  private async handleLine(line: Line): Promise<void> {
    this.verb = '';
    // Over the limit: answered at once, without waiting for the line's end, and the session
    // ends (a client this far off the protocol would only make us skip bytes forever).
    if (line.tooLong) return this.terminate(Replies.lineTooLong);
    const bytes = line.bytes;
    if (bytes.includes(0)) return this.error(Replies.nulInCommand);
    // A CR not followed by LF (RFC 5321 2.3.8: CR and LF only as CRLF) would otherwise reach
    // replies that echo the argument (EHLO's "Hello <name>", VRFY) and the Received field
    // built from the HELO name, breaking their lines.
    if (bytes.includes(0x0d)) return this.error(Replies.bareCrInCommand);
    let text: string;
    if (isAscii(bytes)) {
      text = bytes.toString('latin1');
    } else {
      try {
        text = utf8.decode(bytes);
      } catch {
        return this.error(Replies.badUtf8InCommand);
      }
    }
    text = text.replace(/[ \t]+$/, '');
    const space = text.indexOf(' ');
    const verb = (space < 0 ? text : text.slice(0, space)).toUpperCase();
    const argument = space < 0 ? '' : text.slice(space + 1);
    const command = COMMANDS.get(verb);
    if (!command) return this.error(Replies.unknownCommand);
    this.verb = verb;
    await command(this, argument);
  }

  // ---- shutdown ----------------------------------------------------------------------------

  shutdown(): Promise<void> {
    if (!this.shuttingDown && !this.transport.isClosing) {
      this.shuttingDown = true;
      if (!this.txn && this.transport.waitingForClient) {
        // Idle between commands: nothing to lose.
        this.terminate(Replies.shuttingDown(this.host));
      } else {
        // A transaction is under way: the loop ends the session once it is over, or the
        // grace period does.
        this.graceTimer = setTimeout(() => {
          this.log.info('shutdown grace period over', { inTransaction: this.txn !== null });
          this.terminate(Replies.shuttingDown(this.host));
        }, this.config.shutdownGraceMs);
        this.graceTimer.unref();
      }
    }
    return Promise.all([this.ended, this.transport.closed]).then(() => undefined);
  }
}
