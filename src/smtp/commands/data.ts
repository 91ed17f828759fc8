/**
 * DATA (RFC 5321 4.1.1.4): the message follows, dot-stuffed, up to CRLF "." CRLF. It is
 * streamed into the store as it arrives; the 250 comes only once it is on disk.
 */
import { Replies, formatReply } from '../reply.js';
import type { SmtpSession } from '../session.js';
import { DotDecoder } from '../wire/data-decoder.js';

const GO_AHEAD = formatReply(354, 'End data with <CR><LF>.<CR><LF>');

export async function data(s: SmtpSession, argument: string): Promise<void> {
  if (argument.trim()) return s.error(Replies.noParameters('DATA'));
  const txn = s.txn;
  if (!s.helo) return s.error(Replies.needHelo);
  if (!txn || txn.recipients.length === 0) return s.error(Replies.needRcpt);
  // RFC 3030 2: DATA and BDAT are not mixed in one transaction; BINARYMIME needs BDAT.
  if (txn.bodyCommand === 'BDAT') return s.error(formatReply(503, '5.5.1 Error: DATA not allowed during BDAT transfer'));
  if (txn.bodyType === 'BINARYMIME') return s.error(formatReply(503, '5.5.1 Error: BINARYMIME requires BDAT'));
  txn.bodyCommand = 'DATA';

  const sink = s.createSink(txn);
  s.reply(GO_AHEAD);
  const decoder = new DotDecoder();
  for (;;) {
    const chunk = await s.readBytes();
    if (!chunk) {
      // Client gone, timed out or shut down mid-message: nothing may be stored.
      s.log.info('message aborted', { queueId: txn.queueId, received: sink.size });
      await sink.abort();
      await s.endTransaction();
      return;
    }
    const decoded = decoder.push(chunk);
    await sink.write(decoded.segments);
    if (decoded.done) {
      // Commands pipelined after the end marker (RFC 2920) are read as commands.
      if (decoded.rest) s.transport.unshift(decoded.rest);
      break;
    }
  }
  await s.deliverMessage(txn, sink);
}
