/**
 * The one DNS resolver every part of Wharf asks (MX lookup for delivery, SPF/DKIM/DMARC,
 * MTA-STS, DNS blocklists): the servers come from the configuration (`dns.servers`,
 * WHARF_DNS_SERVERS), so tests and sites can point Wharf at their own DNS server; with none
 * configured the system's resolv.conf is used.
 */
import { promises as dns } from 'node:dns';
import type { DnsConfig } from '../config/types.js';

/** The record types mailauth and delivery look up. */
export type RecordType = 'A' | 'AAAA' | 'MX' | 'TXT' | 'CNAME' | 'PTR';

export interface DnsResolver {
  resolveMx(name: string): Promise<Array<{ exchange: string; priority: number }>>;
  /** TXT records, each as its character strings (join them for SPF/DKIM/DMARC). */
  resolveTxt(name: string): Promise<string[][]>;
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
  reverse(ip: string): Promise<string[]>;
  /**
   * The same lookups in the shape mailauth takes as its `resolver` option
   * (`(name, rrtype) => Promise<records>`, errors with node's ENOTFOUND/ENODATA codes).
   */
  lookup(name: string, type: RecordType): Promise<unknown>;
}

/** Whether a lookup error means "no such name / no such record" (a definite answer), not a failure. */
export function isNoRecords(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOTFOUND' || code === 'ENODATA' || code === dns.NOTFOUND || code === dns.NODATA;
}

/** Most answers kept at once; the oldest goes first. */
const MAX_CACHED = 10_000;

/**
 * Remembers answers (and "no such name / no such record") for `cacheMs`, as a local caching
 * resolver would: a busy MX asks the same SPF, DKIM and DMARC questions for every message of
 * a sender, and the queue the same MX question for every message to a domain. Failures
 * (timeouts, SERVFAIL) are not kept, so the next message asks again.
 */
class AnswerCache {
  private readonly entries = new Map<string, { expires: number; answer: Promise<unknown> }>();

  constructor(private readonly ttlMs: number) {}

  get(key: string, ask: () => Promise<unknown>): Promise<unknown> {
    if (this.ttlMs <= 0) return ask();
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && hit.expires > now) return hit.answer;
    if (hit) this.entries.delete(key);
    const answer = ask();
    this.entries.set(key, { expires: now + this.ttlMs, answer });
    if (this.entries.size > MAX_CACHED) this.entries.delete(this.entries.keys().next().value!);
    answer.catch((err: unknown) => {
      if (!isNoRecords(err) && this.entries.get(key)?.answer === answer) this.entries.delete(key);
    });
    return answer;
  }
}

export function createDnsResolver(config: DnsConfig): DnsResolver {
  // tries: 2 — one retransmission; a dead resolver costs at most two timeouts per lookup.
  const resolver = new dns.Resolver({ timeout: config.timeoutMs, tries: 2 });
  if (config.servers.length > 0) resolver.setServers(config.servers);
  const cache = new AnswerCache(config.cacheMs);
  const lookup = (name: string, type: RecordType): Promise<unknown> =>
    cache.get(`${type} ${name.toLowerCase()}`, () => ask(name, type));
  const ask = (name: string, type: RecordType): Promise<unknown> => {
    switch (type) {
      case 'A':
        return resolver.resolve4(name);
      case 'AAAA':
        return resolver.resolve6(name);
      case 'MX':
        return resolver.resolveMx(name);
      case 'TXT':
        return resolver.resolveTxt(name);
      case 'CNAME':
        return resolver.resolveCname(name);
      case 'PTR':
        return resolver.resolvePtr(name);
    }
  };
  return {
    resolveMx: (name) => lookup(name, 'MX') as Promise<Array<{ exchange: string; priority: number }>>,
    resolveTxt: (name) => lookup(name, 'TXT') as Promise<string[][]>,
    resolve4: (name) => lookup(name, 'A') as Promise<string[]>,
    resolve6: (name) => lookup(name, 'AAAA') as Promise<string[]>,
    reverse: (ip) => cache.get(`REV ${ip}`, () => resolver.reverse(ip)) as Promise<string[]>,
    lookup,
  };
}
