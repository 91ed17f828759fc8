/**
 * DKIM signing of submitted mail (RFC 6376, RFC 8463 for Ed25519): mailauth's signer reads the
 * message as it streams into the store, and its DKIM-Signature goes in front of the message
 * once it is complete. The key is the From domain's (store.getDkimKey), shared by every node.
 */
import { PassThrough } from 'node:stream';
import { loadDkimSigner } from '../mailauth.js';
import type { Logger } from '../../net/types.js';
import type { SigningKey } from '../dkim-keys.js';
import type { MessageObserver } from '../message-sink.js';

/**
 * Signs the message it sees, once told with which key (`start`): the From domain, and so the
 * key, is known only when the header block has gone by. Until then it holds what it saw, which
 * is only our trace fields and the (bounded) header block; a message it is not to sign (`skip`)
 * lets that go at once. Relaxed/relaxed canonicalization survives the re-folding and white
 * space changes of relays; the signed fields are mailauth's default list (From, Sender,
 * Reply-To, Subject, Date, Message-ID, To, Cc, MIME-Version, Content-Type, ...), never our
 * Return-Path or Received.
 */
export class DkimSigningObserver implements MessageObserver {
  private held: Buffer[] | null = [];
  private input: PassThrough | null = null;
  private signing: Promise<Buffer | null> | null = null;

  constructor(private readonly log: Logger) {}

  /** Signs with `key`: what was seen so far, and everything after. At most once. */
  start(key: SigningKey): void {
    if (this.input || !this.held) return;
    const input = new PassThrough();
    const signature = { ...key, canonicalization: 'relaxed/relaxed' };
    const failed = (error: unknown) => {
      // Never the key itself: only where it failed.
      this.log.error('dkim signing failed', { domain: key.signingDomain, selector: key.selector, error: describe(error) });
      return null;
    };
    // The signing time is fixed here: without it mailauth reads the clock twice, rounded, once
    // for the t= tag it signs and once for the one it writes, and about one signature in 400
    // (those that straddle a half second) carried a t= other than the signed one: a bad signature.
    const signTime = new Date();
    this.signing = loadDkimSigner().then((dkimSign) => dkimSign(input, { ...signature, signTime, signatureData: [signature] })).then((result) => {
      if (result.errors.length > 0) return failed(result.errors[0]);
      const lines = result.signatures.trim();
      return lines ? Buffer.from(`${lines}\r\n`) : null;
    }, failed);
    for (const chunk of this.held) input.write(chunk);
    this.held = null;
    this.input = input;
  }

  /** This message is not signed. */
  skip(): void {
    this.held = null;
  }

  write(chunk: Buffer): void {
    if (this.input) this.input.write(chunk);
    else this.held?.push(chunk);
  }

  async end(): Promise<Buffer | null> {
    this.held = null;
    if (!this.input || !this.signing) return null;
    this.input.end();
    return this.signing;
  }

  abort(): void {
    this.held = null;
    this.input?.destroy();
  }
}

/** mailauth reports signing errors as objects holding the error (`err`). */
function describe(error: unknown): string {
  const inner = (error as { err?: unknown } | null)?.err ?? error;
  return inner instanceof Error ? inner.message : String(inner);
}
