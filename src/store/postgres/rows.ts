/** Row shapes and conversions shared by the modules that read mailbox entries. */
import type { MailboxEntry } from '../types.js';

export interface EntryRow {
  mailbox_id: number;
  uid: number;
  message_id: number;
  flags: string[];
  modseq: number;
  size: number;
  internal_date: Date;
}

export const ENTRY_COLUMNS = 'mailbox_id, uid, message_id, flags, modseq, size, internal_date';

export function toEntry(r: EntryRow): MailboxEntry {
  return {
    mailboxId: r.mailbox_id,
    uid: r.uid,
    messageId: r.message_id,
    flags: r.flags,
    modseq: r.modseq,
    size: r.size,
    internalDate: r.internal_date,
  };
}

/** Above any UID (UIDs are 32-bit in IMAP) and any modseq this store hands out. */
export const ABOVE_ALL = Number.MAX_SAFE_INTEGER;

/**
 * A client's modseq as a bigint parameter for `modseq > $n`: a client may send up to 2^63
 * (RFC 7162) or a fraction, which bigint cannot hold; for whole-number modseqs, m > x holds
 * exactly when m > floor(x), and nothing this store hands out is above 2^53.
 */
export function modseqBound(value: number): number {
  return Math.min(Math.floor(value), ABOVE_ALL);
}
