/**
 * One mail transaction (RFC 5321 3.3): from MAIL to the end of the message, or RSET.
 */
import type { MessageSink } from './message-sink.js';
import { newQueueId } from './trace.js';

export type BodyType = '7BIT' | '8BITMIME' | 'BINARYMIME';

export class Transaction {
  /** Accepted forward paths, in order, without duplicates. */
  readonly recipients: string[] = [];
  /** Local users who get a copy; a user reached through several aliases is listed once. */
  readonly userIds = new Set<number>();
  /** Of them, those with a quota: the only ones the end of DATA checks again (smtp/quota.ts). */
  readonly quotaUserIds = new Set<number>();
  /** Recipients in other domains (authenticated submission only), for the outbound queue; domains lower-cased. */
  readonly remoteRecipients: string[] = [];
  /** The message being received with BDAT (RFC 3030), between the first and the LAST chunk. */
  chunked: MessageSink | null = null;
  /** Set by DATA or BDAT: the other one is then a sequence error (RFC 3030 2). */
  bodyCommand: 'DATA' | 'BDAT' | null = null;
  readonly startedAt = Date.now();
  /** Names the transaction in replies, the Received field and logs. */
  readonly queueId = newQueueId();

  constructor(
    /** Reverse path without brackets; '' for <>. */
    readonly mailFrom: string,
    /** SIZE= from MAIL (RFC 1870), if given. */
    readonly declaredSize: number | null,
    readonly bodyType: BodyType,
    /** SMTPUTF8 given on MAIL (RFC 6531). */
    readonly smtputf8: boolean,
  ) {}

  hasRecipient(address: string): boolean {
    const lower = address.toLowerCase();
    return this.recipients.some((r) => r.toLowerCase() === lower);
  }

  addRecipient(address: string, userIds: number[]): void {
    if (!this.hasRecipient(address)) this.recipients.push(address);
    for (const id of userIds) this.userIds.add(id);
  }

  addRemoteRecipient(address: string): void {
    if (this.hasRecipient(address)) return;
    this.recipients.push(address);
    const at = address.lastIndexOf('@');
    this.remoteRecipients.push(address.slice(0, at + 1) + address.slice(at + 1).toLowerCase());
  }
}
