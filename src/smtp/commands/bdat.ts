/**
 * BDAT (RFC 3030 CHUNKING): the message comes in chunks of exactly the announced size, with
 * no dot-stuffing and no end marker; the chunk marked LAST completes it. The bytes of a chunk
 * are always read, even when the command fails, since they are not commands.
 */
import { Replies, formatReply } from '../reply.js';
import type { SmtpSession } from '../session.js';

const SYNTAX = formatReply(501, '5.5.4 Syntax: BDAT size [LAST]');
const BDAT_ARGUMENTS = /^(\d{1,15})(?:[ \t]+(LAST))?$/i;

/** Reads and drops `size` bytes; false when the session ended first. */
async function discard(s: SmtpSession, size: number): Promise<boolean> {
  let remaining = size;
  while (remaining > 0) {
    const chunk = await s.readBytes(Math.min(remaining, 64 * 1024));
    if (!chunk) return false;
    remaining -= chunk.length;
  }
  return true;
}

export async function bdat(s: SmtpSession, argument: string): Promise<void> {
  const match = BDAT_ARGUMENTS.exec(argument.trim());
  // Without a valid size the chunk cannot be skipped; its bytes will fail as commands.
  if (!match) return s.error(SYNTAX);
  const size = Number(match[1]);
  const last = match[2] !== undefined;
  const txn = s.txn;

  const refusal = !s.helo ? Replies.needHelo : !txn || txn.recipients.length === 0 ? Replies.needRcpt : null;
  if (refusal || !txn) {
    if (await discard(s, size)) s.error(refusal ?? Replies.needRcpt);
    return;
  }

  txn.bodyCommand = 'BDAT';
  if (!txn.chunked) txn.chunked = s.createSink(txn);
  const sink = txn.chunked;
  let remaining = size;
  while (remaining > 0) {
    const chunk = await s.readBytes(Math.min(remaining, 64 * 1024));
    if (!chunk) {
      s.log.info('message aborted', { queueId: txn.queueId, received: sink.size });
      await s.endTransaction();
      return;
    }
    remaining -= chunk.length;
    await sink.write([chunk]);
  }

  if (sink.tooBig || sink.failure) {
    // RFC 3030 4.2: a failed chunk fails the transaction; later chunks get 503.
    await s.deliverMessage(txn, sink);
    await s.endTransaction();
    return;
  }
  if (!last) return s.reply(formatReply(250, `2.0.0 Ok: ${size} octets received`));
  txn.chunked = null;
  await s.deliverMessage(txn, sink);
}
