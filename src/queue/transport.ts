/**
 * The seam between the outbound queue (which message, when, how often, what to tell the
 * sender) and the SMTP client side (where to connect, TLS, the dialogue). The queue worker
 * hands the transport one message for one destination domain; the transport finds the MX
 * hosts (or the configured smarthost), tries them in order and reports one outcome per
 * recipient. It never throws for a delivery failure: every failure is an outcome.
 */

/** One message for the recipients of one destination domain. */
export interface DeliveryAttempt {
  /** Queue id (for logs). */
  queueId: number;
  /** Destination domain shared by every recipient (lower-cased). */
  domain: string;
  /** Envelope sender; '' for <>. */
  mailFrom: string;
  /** Forward paths, all at `domain`. */
  recipients: string[];
  /** Bytes of the stored body (SIZE=). */
  size: number;
  /** The body has 8-bit octets: needs 8BITMIME at the peer. */
  eightBit: boolean;
  /** Needs SMTPUTF8 at the peer. */
  smtputf8: boolean;
  /** Streams the stored body, as it is to go on the wire before dot-stuffing. Each call starts over. */
  body(): AsyncIterable<Buffer>;
}

export interface RecipientOutcome {
  address: string;
  /** 'delivered' on 250; 'bounced' on a permanent failure (5xx, null MX, ...); else 'deferred'. */
  outcome: 'delivered' | 'deferred' | 'bounced';
  /** What to record and tell the sender: the peer's reply ("550 5.1.1 ...") or our own words. */
  reply: string;
  /** The host that answered (RFC 3464 Remote-MTA), when a connection was made. */
  remoteMta?: string;
}

export interface Transport {
  /**
   * Delivers `attempt` and resolves with one outcome per recipient, in the order given.
   * Connection reuse and the per-destination connection limit are the transport's business.
   */
  deliver(attempt: DeliveryAttempt, signal?: AbortSignal): Promise<RecipientOutcome[]>;
  /** Closes pooled connections (QUIT). */
  close(): Promise<void>;
}
