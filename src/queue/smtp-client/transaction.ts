/**
 * One mail transaction (RFC 5321 3.3): MAIL, RCPT for each recipient, DATA and the message,
 * with one outcome per recipient. With PIPELINING (RFC 2920) MAIL and every RCPT leave in one
 * write and the replies are read after. Before any command the message is checked against
 * what the server can take: its SIZE limit, 8BITMIME for an 8-bit body, SMTPUTF8 for
 * internationalised addresses. A message the server cannot take as it is bounces; it is never
 * sent in a form the server did not agree to.
 */
import { DotEncoder } from './dot-encoder.js';
import { SmtpClientError, failureReply } from './errors.js';
import { replyText, type SmtpReply } from './reply.js';
import type { SmtpClientSession } from './session.js';
import type { DeliveryAttempt } from '../transport.js';

/** One message for one SMTP transaction: the transport's attempt without its queue bookkeeping. */
export type OutgoingMessage = Pick<DeliveryAttempt, 'mailFrom' | 'recipients' | 'size' | 'eightBit' | 'smtputf8' | 'body'>;

export type Outcome = 'delivered' | 'deferred' | 'bounced';

export interface RecipientResult {
  address: string;
  outcome: Outcome;
  /** The server's reply on one line, or our words for a failure that had none. */
  reply: string;
}

export interface TransactionResult {
  /** One per recipient, in the order given. */
  recipients: RecipientResult[];
  /** The session is in a known state and may carry another message (after RSET). */
  reusable: boolean;
  /** The reply to the end of the message, when it was sent. */
  dataReply: SmtpReply | null;
}

/** The reply a recipient gets when the server cannot take the message as it is, or null. */
export function capabilityRefusal(session: SmtpClientSession, message: OutgoingMessage): string | null {
  const ext = session.extensions;
  const host = session.serverName;
  if (message.smtputf8 && !ext.smtputf8) {
    return `553 5.6.7 ${host} does not support SMTPUTF8, which this message needs (internationalised address)`;
  }
  if (message.eightBit && !ext.eightBitMime) {
    return `554 5.6.3 ${host} does not support 8BITMIME and this message has 8-bit content`;
  }
  if (ext.maxSize !== null && message.size > ext.maxSize) {
    return `552 5.3.4 Message of ${message.size} bytes exceeds the ${ext.maxSize} bytes ${host} accepts`;
  }
  return null;
}

/** Sends one message; never throws (a broken connection defers what was not decided yet). */
export async function sendMessage(session: SmtpClientSession, message: OutgoingMessage): Promise<TransactionResult> {
  const results: Array<RecipientResult | null> = message.recipients.map(() => null);
  const finish = (outcome: Outcome, reply: string) => {
    message.recipients.forEach((address, i) => (results[i] ??= { address, outcome, reply }));
  };
  const done = (reusable: boolean, dataReply: SmtpReply | null = null): TransactionResult => ({
    recipients: results.map((r, i) => r ?? { address: message.recipients[i], outcome: 'deferred', reply: '451 4.3.0 not attempted' }),
    reusable: reusable && session.alive,
    dataReply,
  });

  const refusal = capabilityRefusal(session, message);
  if (refusal) {
    finish('bounced', refusal);
    return done(true);
  }

  const conn = session.conn;
  try {
    const ext = session.extensions;
    const params: string[] = [];
    if (ext.size) params.push(`SIZE=${message.size}`);
    if (message.eightBit) params.push('BODY=8BITMIME');
    if (message.smtputf8) params.push('SMTPUTF8');
    const mailLine = [`MAIL FROM:<${message.mailFrom}>`, ...params].join(' ');
    const rcptLines = message.recipients.map((r) => `RCPT TO:<${r}>`);

    let mailReply: SmtpReply;
    const rcptReplies: SmtpReply[] = [];
    if (ext.pipelining) {
      await conn.sendLines([mailLine, ...rcptLines]);
      mailReply = await conn.readReply('MAIL');
      // Every pipelined command gets its reply, even after a refused MAIL (they are 503s then).
      try {
        for (let i = 0; i < rcptLines.length; i++) rcptReplies.push(await conn.readReply('RCPT'));
      } catch (err) {
        // A server that refused MAIL may hang up instead: its refusal is the answer.
        if (mailReply.code === 250) throw err;
        finish(mailReply.code >= 500 ? 'bounced' : 'deferred', replyText(mailReply));
        session.destroy();
        return done(false);
      }
    } else {
      mailReply = await conn.command(mailLine, 'MAIL');
      if (mailReply.code === 250) {
        for (const line of rcptLines) rcptReplies.push(await conn.command(line, 'RCPT'));
      }
    }

    if (mailReply.code !== 250) {
      finish(mailReply.code >= 500 ? 'bounced' : 'deferred', replyText(mailReply));
      return done(mailReply.code !== 421);
    }
    const accepted: number[] = [];
    rcptReplies.forEach((reply, i) => {
      if (reply.code >= 200 && reply.code < 300) accepted.push(i);
      else results[i] = { address: message.recipients[i], outcome: reply.code >= 500 ? 'bounced' : 'deferred', reply: replyText(reply) };
    });
    if (rcptReplies.some((r) => r.code === 421)) return done(false);
    if (accepted.length === 0) return done(true);

    const dataStart = await conn.command('DATA', 'DATA');
    if (dataStart.code !== 354) {
      finish(dataStart.code >= 500 ? 'bounced' : 'deferred', replyText(dataStart));
      return done(dataStart.code !== 421);
    }
    const early = await streamBody(session, message);
    if (early) {
      // The server answered before the end of the message (a size limit, say) and hung up.
      finish(outcomeOf(early), replyText(early));
      session.destroy();
      return done(false, early);
    }
    const dataReply = await conn.readReply('end of data');
    finish(outcomeOf(dataReply), replyText(dataReply));
    session.messages++;
    return done(dataReply.code !== 421, dataReply);
  } catch (err) {
    // Whatever is decided stays decided (a 550 to RCPT still bounces); the rest waits.
    finish('deferred', failureReply(err, session.serverName));
    session.destroy();
    return done(false);
  }
}

const outcomeOf = (reply: SmtpReply): Outcome => (reply.code >= 200 && reply.code < 300 ? 'delivered' : reply.code >= 500 ? 'bounced' : 'deferred');

/**
 * Streams the message through the dot-stuffing encoder, as fast as the server takes it.
 * Resolves to null once all of it is sent, or to the reply of a server that closed the
 * connection with a reply before the end (which says more than "connection closed").
 */
async function streamBody(session: SmtpClientSession, message: OutgoingMessage): Promise<SmtpReply | null> {
  const conn = session.conn;
  const encoder = new DotEncoder();
  conn.note('sending the message');
  try {
    for await (const chunk of message.body()) {
      const wire = encoder.push(chunk);
      if (wire.length > 0) await conn.write(wire);
    }
    await conn.write(encoder.end());
  } catch (err) {
    if (err instanceof SmtpClientError) {
      if (err.kind === 'closed') {
        const early = await conn.readReply('DATA').catch(() => null);
        if (early && early.code >= 400) return early;
      }
      throw err;
    }
    // The message could not be read: the server must not take what we have sent so far.
    throw new SmtpClientError('aborted', 'DATA', `reading the message failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  conn.note(`message sent (${encoder.size} bytes)`);
  return null;
}
