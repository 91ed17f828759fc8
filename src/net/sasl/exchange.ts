/**
 * Runs one SASL exchange over a line protocol: decode the responses, feed the mechanism, send
 * its challenges, until it yields credentials or fails. The protocol supplies how a challenge
 * is written and how the answer is read.
 */
import type { Line } from '../line-reader.js';
import type { SaslCredentials, SaslFailure, SaslMechanism } from './mechanism.js';
import { decodeClientResponse } from './response.js';

export interface SaslChannel {
  /**
   * Sends a challenge (base64 text, possibly empty) the way the protocol spells it (SMTP
   * "334 text", POP3 and IMAP "+ text") and returns the client's answer line; null when the
   * session ended meanwhile.
   */
  challenge(base64: string): Promise<Line | null>;
}

export interface SaslExchangeOptions {
  /** How the protocol writes an empty initial response; "=" in SMTP, POP3 and IMAP. */
  emptyInitialResponse?: string;
}

export type SaslOutcome =
  | { ok: true; credentials: SaslCredentials }
  /** 'ended': the session ended during the exchange; nothing more should be sent. */
  | { ok: false; reason: SaslFailure | 'ended' };

/**
 * `initialResponse` is the text after the mechanism name on the command line, undefined when
 * there was none. Credentials are never logged here.
 */
export async function runSaslExchange(
  mechanism: SaslMechanism,
  initialResponse: string | undefined,
  channel: SaslChannel,
  opts: SaslExchangeOptions = {},
): Promise<SaslOutcome> {
  const emptyInitial = opts.emptyInitialResponse ?? '=';
  let step;
  if (initialResponse === undefined) {
    step = mechanism.start(undefined);
  } else {
    const decoded = decodeClientResponse(initialResponse, true, emptyInitial);
    if (decoded.kind === 'cancel') return { ok: false, reason: 'cancelled' };
    if (decoded.kind === 'invalid') return { ok: false, reason: 'bad-base64' };
    step = mechanism.start(decoded.data);
  }
  while (step.kind === 'challenge') {
    const line = await channel.challenge(step.challenge.toString('base64'));
    if (!line) return { ok: false, reason: 'ended' };
    if (line.tooLong) return { ok: false, reason: 'too-long' };
    const decoded = decodeClientResponse(line.bytes.toString('latin1').trim(), false, emptyInitial);
    if (decoded.kind === 'cancel') return { ok: false, reason: 'cancelled' };
    if (decoded.kind === 'invalid') return { ok: false, reason: 'bad-base64' };
    step = mechanism.respond(decoded.data);
  }
  if (step.kind === 'failure') return { ok: false, reason: step.reason };
  return { ok: true, credentials: step.credentials };
}
