/**
 * Verification of mail arriving on the MX port: DKIM (RFC 6376) over the message as it streams
 * in, SPF (RFC 7208) for the client's address and its HELO and MAIL FROM identities, and DMARC
 * (RFC 7489) for the From: domain, all with mailauth and through the configured resolver. The
 * outcome goes in front of the message as an Authentication-Results field (RFC 8601), and
 * decides what happens to the message: the sender's DMARC policy may ask to reject it (550
 * at the end of DATA) or to quarantine it (the recipients' Junk mailbox).
 *
 * A DNS failure never loses mail: it gives temperror results and the message is accepted.
 */
import { PassThrough } from 'node:stream';
import type { DKIMResult, DKIMVerifyResult, DMARCResult, DNSResolver, SPFResult } from 'mailauth';
import { loadMailauthChecks } from '../mailauth.js';
import type { Logger } from '../../net/types.js';
import type { MessageObserver } from '../message-sink.js';
import { formatReply } from '../reply.js';
import { authenticationResults, type ResultClause } from './auth-results.js';

/** Header blocks larger than this are not verified (nothing legitimate comes close; Postfix stops at 100 KiB). */
export const MAX_VERIFIED_HEADER_BYTES = 256 * 1024;
/**
 * Bytes waiting for the DKIM verifier. It hashes far faster than a client sends, so this only
 * fills when something is wrong; then verification gives up rather than hold the message.
 */
export const MAX_PENDING_BYTES = 8 * 1024 * 1024;
/** How long the end of a message may wait for the outstanding DNS answers before they count as temperror. */
export const DEFAULT_VERIFY_DEADLINE_MS = 30_000;

export interface InboundFacts {
  /** The client's IP address. */
  clientIp: string;
  /** The HELO/EHLO argument. */
  helo: string;
  /** Envelope sender; '' for <>. */
  mailFrom: string;
  /** Our name: the authserv-id of the field we add. */
  hostname: string;
  queueId: string;
}

export interface InboundVerifierOptions {
  /** Lookups in mailauth's resolver shape (DnsResolver.lookup). */
  resolve: (name: string, type: string) => Promise<unknown>;
  log: Logger;
  deadlineMs?: number;
  /** Draws for DMARC pct= sampling; injectable for tests. */
  random?: () => number;
}

/** What to do with the message once verified. */
export type InboundVerdict =
  | { action: 'inbox' }
  /** DMARC p=quarantine (or a sampled-out reject): deliver into the recipients' Junk mailbox. */
  | { action: 'junk' }
  /** DMARC p=reject: refuse at the end of DATA with `reply`; nothing is stored. */
  | { action: 'reject'; reply: string };

const LATE = Symbol('late');

/** Waits for `p` until `deadline` (epoch ms); LATE afterwards. */
function until<T>(p: Promise<T>, deadline: number): Promise<T | typeof LATE> {
  const left = deadline - Date.now();
  if (left <= 0) return Promise.race([p, Promise.resolve(LATE)]);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<typeof LATE>((resolve) => {
    timer = setTimeout(() => resolve(LATE), left);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** An IP literal or a bare word is no domain to check SPF for. */
function isDomainName(name: string): boolean {
  return /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+\.?$/.test(name);
}

/** A domain from the message (attacker-controlled) made safe for a reply line. */
function replySafe(domain: string): string {
  return domain.replace(/[^A-Za-z0-9.-]/g, '?').slice(0, 255);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * RFC 8601 2.7.1: a body that no longer matches its signature's hash is a failed signature;
 * mailauth reports it as neutral.
 */
function dkimResultOf(r: DKIMResult): string {
  const result = r.status.result;
  return result === 'neutral' && r.status.comment === 'body hash did not verify' ? 'fail' : result;
}

export class InboundVerifier implements MessageObserver {
  private readonly stream = new PassThrough();
  private readonly dkim: Promise<DKIMVerifyResult | Error>;
  private readonly spfMailFrom: Promise<SPFResult | Error>;
  private readonly spfHelo: Promise<SPFResult | Error> | null;
  private readonly resolver: DNSResolver;
  /** Bytes of the header block so far, and the last two bytes seen, to find its end. */
  private headerBytes = 0;
  private headerEnded = false;
  private last1 = 0;
  private last2 = 0;
  private headerTooLarge = false;
  private fellBehind = false;
  private stopped = false;
  private decided: InboundVerdict = { action: 'inbox' };
  private readonly checks: ReturnType<typeof loadMailauthChecks>;

  constructor(
    private readonly facts: InboundFacts,
    private readonly opts: InboundVerifierOptions,
  ) {
    this.resolver = (name, type) => opts.resolve(name, type) as ReturnType<DNSResolver>;
    this.stream.on('error', () => {});
    // The stream holds what arrives while mailauth loads (once per process).
    const checks = loadMailauthChecks();
    this.checks = checks;
    this.dkim = checks.then((m) => m.dkimVerify(this.stream, { resolver: this.resolver, sender: facts.mailFrom || undefined })).catch((err: unknown) => {
      // Nothing reads the stream any more: stop filling it.
      this.stopped = true;
      this.stream.destroy();
      return err instanceof Error ? err : new Error(String(err));
    });
    // SPF needs only the envelope: it runs while the message is still coming in.
    const helo = facts.helo.replace(/\.$/, '');
    this.spfMailFrom = this.checkSpf(facts.mailFrom || `postmaster@${helo}`);
    this.spfHelo = facts.mailFrom && isDomainName(helo) ? this.checkSpf(`postmaster@${helo}`) : null;
  }

  private checkSpf(sender: string): Promise<SPFResult | Error> {
    return this.checks.then((m) => m.spf({ sender, ip: this.facts.clientIp, helo: this.facts.helo, mta: this.facts.hostname, resolver: this.resolver })).catch(
      (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
    );
  }

  /** The decision, once `end` resolved. */
  get verdict(): InboundVerdict {
    return this.decided;
  }

  write(chunk: Buffer): void {
    if (this.stopped) return;
    if (!this.headerEnded) this.scanHeader(chunk);
    if (this.headerTooLarge) {
      // mailauth keeps the whole header block in memory: stop feeding it.
      this.stopped = true;
      this.stream.end();
      return;
    }
    if (this.stream.writableLength > MAX_PENDING_BYTES) {
      this.fellBehind = true;
      this.stopped = true;
      this.stream.destroy();
      return;
    }
    this.stream.write(chunk);
  }

  /** Finds the empty line that ends the header block (CRLF CRLF, or bare LF LF). */
  private scanHeader(chunk: Buffer): void {
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === 0x0a && (this.last1 === 0x0a || (this.last1 === 0x0d && this.last2 === 0x0a))) {
        this.headerEnded = true;
        return;
      }
      this.last2 = this.last1;
      this.last1 = b;
    }
    this.headerBytes += chunk.length;
    if (this.headerBytes > MAX_VERIFIED_HEADER_BYTES) this.headerTooLarge = true;
  }

  abort(): void {
    this.stopped = true;
    this.stream.destroy();
  }

  async end(): Promise<Buffer | null> {
    const deadline = Date.now() + (this.opts.deadlineMs ?? DEFAULT_VERIFY_DEADLINE_MS);
    if (!this.stopped) {
      this.stopped = true;
      // A message without an empty line is all header: end it, or mailauth never reads it.
      if (!this.headerEnded) this.stream.write('\r\n');
      this.stream.end();
    }
    const [dkimOutcome, spfOutcome, heloOutcome] = await Promise.all([
      until(this.dkim, deadline),
      until(this.spfMailFrom, deadline),
      this.spfHelo ? until(this.spfHelo, deadline) : Promise.resolve(null),
    ]);
    const clauses: ResultClause[] = [];
    const dkimPassed: Array<{ domain: string; aligned?: boolean }> = [];
    let uncertain = false;

    // ---- DKIM
    const dkimResult = dkimOutcome === LATE || dkimOutcome instanceof Error ? null : dkimOutcome;
    if (this.headerTooLarge) {
      // Our limit, not the sender's failure: the sender's policy is not applied.
      uncertain = true;
      clauses.push({ method: 'dkim', result: 'permerror', comment: 'header block too large to verify', properties: [] });
    } else if (this.fellBehind) {
      uncertain = true;
      clauses.push({ method: 'dkim', result: 'temperror', comment: 'verification fell behind', properties: [] });
    } else if (!dkimResult) {
      uncertain = true;
      const why = dkimOutcome === LATE ? 'DNS answers too slow' : errorText(dkimOutcome);
      clauses.push({ method: 'dkim', result: 'temperror', comment: why, properties: [] });
    } else {
      for (const r of dkimResult.results) {
        const result = dkimResultOf(r);
        if (result === 'temperror') uncertain = true;
        if (result === 'pass' && r.signingDomain) dkimPassed.push({ domain: r.signingDomain, aligned: Boolean(r.status.aligned) });
        const h = (r.status.header ?? {}) as Record<string, string | false | undefined>;
        clauses.push({
          method: 'dkim',
          result,
          comment: r.status.comment || undefined,
          properties: [
            ['header.d', r.signingDomain],
            ['header.i', h.i || undefined],
            ['header.s', r.selector],
            ['header.a', h.a || undefined],
            ['header.b', h.b || undefined],
          ],
        });
      }
    }

    // ---- SPF
    const spfResult = this.spfClause(spfOutcome, 'smtp.mailfrom', this.facts.mailFrom || `postmaster@${this.facts.helo}`, clauses);
    if (spfResult === 'temperror') uncertain = true;
    if (heloOutcome) this.spfClause(heloOutcome, 'smtp.helo', this.facts.helo, clauses);

    // ---- DMARC
    const spfDomain = spfResult === 'pass' && spfOutcome !== LATE && !(spfOutcome instanceof Error) ? spfOutcome.domain : null;
    const from = dkimResult?.headerFrom ?? [];
    const fromDomain = from.length === 1 ? (from[0].split('@').pop() ?? '').toLowerCase() : null;
    let dmarcResult: DMARCResult | null = null;
    if (!fromDomain) {
      const why = from.length === 0 ? 'no From address' : 'more than one From address';
      clauses.push({ method: 'dmarc', result: from.length === 0 ? 'none' : 'permerror', comment: why, properties: [] });
    } else {
      const outcome = await until(
        this.checks.then((m) => m.dmarc({ headerFrom: from[0], spfDomains: spfDomain ? [spfDomain] : [], dkimDomains: dkimPassed, resolver: this.resolver })).catch(
          (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
        ),
        deadline,
      );
      if (outcome === LATE || outcome instanceof Error || !outcome) {
        clauses.push({ method: 'dmarc', result: 'temperror', comment: outcome === LATE ? 'DNS answers too slow' : undefined, properties: [['header.from', fromDomain]] });
      } else {
        dmarcResult = outcome;
        clauses.push({ method: 'dmarc', result: outcome.status.result, comment: outcome.status.comment || undefined, properties: [['header.from', fromDomain]] });
      }
    }

    this.decided = this.decide(dmarcResult, fromDomain, uncertain);
    this.opts.log.info('mail authentication', {
      queueId: this.facts.queueId,
      dkim: clauses.filter((c) => c.method === 'dkim').map((c) => c.result).join(','),
      spf: spfResult,
      dmarc: clauses.find((c) => c.method === 'dmarc')?.result,
      from: fromDomain ?? undefined,
      action: this.decided.action,
    });
    return Buffer.from(authenticationResults(this.facts.hostname, clauses), 'utf8');
  }

  /** Adds an SPF clause for one identity; returns its result. */
  private spfClause(outcome: SPFResult | Error | typeof LATE, property: string, identity: string, clauses: ResultClause[]): string {
    if (outcome === LATE || outcome instanceof Error) {
      const why = outcome === LATE ? 'DNS answers too slow' : errorText(outcome);
      clauses.push({ method: 'spf', result: 'temperror', comment: why, properties: [[property, identity]] });
      return 'temperror';
    }
    const result = outcome.status.result;
    clauses.push({ method: 'spf', result, comment: outcome.status.comment || undefined, properties: [[property, identity]] });
    return result;
  }

  /**
   * The sender's DMARC policy for a message that failed: p=reject refuses it, p=quarantine
   * files it as junk. pct= below 100 applies the policy to that share of messages and the next
   * milder one to the rest (RFC 7489 6.6.4). When DKIM or SPF could not be checked for a DNS
   * failure the failure may be ours: the message goes in.
   */
  private decide(result: DMARCResult | null, fromDomain: string | null, uncertain: boolean): InboundVerdict {
    if (!result || result.status.result !== 'fail' || uncertain) return { action: 'inbox' };
    const policy = (result.policy ?? '').toLowerCase();
    const pct = typeof result.pct === 'number' ? result.pct : 100;
    const sampled = pct >= 100 || (this.opts.random ?? Math.random)() * 100 < pct;
    if (policy === 'reject' && sampled) {
      const domain = replySafe(fromDomain ?? '');
      return { action: 'reject', reply: formatReply(550, `5.7.1 Message rejected: it fails the DMARC policy of ${domain}`) };
    }
    if (policy === 'reject' || (policy === 'quarantine' && sampled)) return { action: 'junk' };
    return { action: 'inbox' };
  }
}
