/**
 * Backend-independent checks of what the outbound queue accepts (OutboundRequest, attempt
 * results), and the watch id both backends announce queue changes under, so SQLite and
 * PostgreSQL agree on what is valid and on the stored spelling.
 */
import { normalizeDomain } from './normalize.js';
import { StoreError, type OutboundRequest, type QueueAttemptResult, type QueueRecipientStatus } from './types.js';

/**
 * Queue changes are announced through the mailbox-change machinery under this id (no mailbox
 * has it: ids start at 1), so they reach other processes and nodes the way mailbox changes
 * do, reconnects included.
 */
export const QUEUE_WATCH_ID = 0;

/** RFC 5321 4.5.3.1.3: a path is at most 256 octets including the brackets. */
const MAX_PATH_OCTETS = 254;
/** Characters never in a forward path: controls, space, brackets. */
const FORBIDDEN = /[\u0000-\u0020\u007f<>]/u;
/** An address literal, [192.0.2.1] or [IPv6:...]: taken as given, lower-cased. */
const ADDRESS_LITERAL = /^\[[\p{L}\p{N}.:-]+\]$/u;

export interface QueueRecipientInput {
  address: string;
  domain: string;
}

/** A forward path with its domain lower-cased (the local part keeps its case: the next hop decides). */
export function normalizeForwardPath(input: string): QueueRecipientInput {
  const raw = typeof input === 'string' ? input.trim() : '';
  const at = raw.lastIndexOf('@');
  if (at <= 0 || at === raw.length - 1 || FORBIDDEN.test(raw) || Buffer.byteLength(raw) > MAX_PATH_OCTETS) {
    throw new StoreError('invalid', `invalid forward path: ${JSON.stringify(input)}`);
  }
  const rawDomain = raw.slice(at + 1);
  let domain: string;
  if (ADDRESS_LITERAL.test(rawDomain)) {
    domain = rawDomain.toLowerCase();
  } else {
    try {
      domain = normalizeDomain(rawDomain);
    } catch {
      throw new StoreError('invalid', `invalid forward path: ${JSON.stringify(input)}`);
    }
  }
  return { address: `${raw.slice(0, at)}@${domain}`, domain };
}

export interface NormalizedOutbound {
  recipients: QueueRecipientInput[];
  senderUserId: number | null;
  eightBit: boolean;
  smtputf8: boolean;
  /** Milliseconds since the epoch, or null for "now" by the store's clock. */
  notBefore: number | null;
}

/** Checks an OutboundRequest; recipients are de-duplicated after normalising, in the order given. */
export function normalizeOutbound(request: OutboundRequest): NormalizedOutbound {
  if (!request || !Array.isArray(request.recipients) || request.recipients.length === 0) {
    throw new StoreError('invalid', 'an outbound delivery needs at least one recipient');
  }
  const seen = new Set<string>();
  const recipients: QueueRecipientInput[] = [];
  for (const input of request.recipients) {
    const recipient = normalizeForwardPath(input);
    if (seen.has(recipient.address)) continue;
    seen.add(recipient.address);
    recipients.push(recipient);
  }
  const sender = request.senderUserId ?? null;
  if (sender !== null && !(Number.isSafeInteger(sender) && sender > 0)) {
    throw new StoreError('invalid', `invalid sender user id: ${String(sender)}`);
  }
  let notBefore: number | null = null;
  if (request.notBefore !== undefined) {
    notBefore = request.notBefore instanceof Date ? request.notBefore.getTime() : NaN;
    if (!Number.isFinite(notBefore)) throw new StoreError('invalid', 'invalid notBefore date');
  }
  return { recipients, senderUserId: sender, eightBit: request.eightBit === true, smtputf8: request.smtputf8 === true, notBefore };
}

/**
 * An envelope sender for the queue: '' (null sender) or the path as the SMTP server took it
 * (it checked the syntax; only what could break a later SMTP command is refused here).
 */
export function normalizeReversePath(mailFrom: string): string {
  if (typeof mailFrom !== 'string' || FORBIDDEN.test(mailFrom) || Buffer.byteLength(mailFrom) > MAX_PATH_OCTETS) {
    throw new StoreError('invalid', `invalid envelope sender: ${JSON.stringify(mailFrom)}`);
  }
  return mailFrom;
}

export interface NormalizedResult {
  address: string;
  /** The status it leaves the recipient in. */
  status: Extract<QueueRecipientStatus, 'pending' | 'delivered' | 'bounced'>;
  reply: string;
  /** For 'deferred' (status 'pending'): ms since the epoch. */
  nextAttemptAt: number | null;
}

/** Longest reply kept (a peer may send a long multi-line reply). */
const MAX_REPLY_LENGTH = 2000;

/** Checks attempt results; a recipient named twice is refused. */
export function normalizeResults(results: readonly QueueAttemptResult[]): NormalizedResult[] {
  if (!Array.isArray(results)) throw new StoreError('invalid', 'attempt results must be a list');
  const seen = new Set<string>();
  return results.map((result) => {
    const { address } = normalizeForwardPath(result?.address);
    if (seen.has(address)) throw new StoreError('invalid', `recipient ${address} named twice`);
    seen.add(address);
    // NUL cannot be stored in PostgreSQL text; a peer's reply may hold anything.
    const reply = typeof result.reply === 'string' ? result.reply.replace(/\u0000/g, '').slice(0, MAX_REPLY_LENGTH) : '';
    switch (result.outcome) {
      case 'delivered':
      case 'bounced':
        return { address, status: result.outcome, reply, nextAttemptAt: null };
      case 'deferred': {
        const next = result.nextAttemptAt instanceof Date ? result.nextAttemptAt.getTime() : NaN;
        if (!Number.isFinite(next)) throw new StoreError('invalid', `a deferred result for ${address} needs nextAttemptAt`);
        return { address, status: 'pending', reply, nextAttemptAt: next };
      }
      default:
        throw new StoreError('invalid', `invalid outcome for ${address}: ${String(result.outcome)}`);
    }
  });
}

export function checkQueueId(queueId: number): boolean {
  return Number.isSafeInteger(queueId) && queueId > 0;
}

export function checkOwner(owner: string): void {
  if (typeof owner !== 'string' || owner.length === 0) throw new StoreError('invalid', 'queue claim owner is empty');
}

export function checkLeaseMs(leaseMs: number): number {
  if (!Number.isFinite(leaseMs) || leaseMs <= 0) throw new StoreError('invalid', `invalid lease duration: ${leaseMs}`);
  return Math.ceil(leaseMs);
}

export function checkLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new StoreError('invalid', `invalid claim limit: ${limit}`);
  return limit;
}

export function checkDate(date: Date, what: string): number {
  const time = date instanceof Date ? date.getTime() : NaN;
  if (!Number.isFinite(time)) throw new StoreError('invalid', `invalid ${what}`);
  return time;
}
