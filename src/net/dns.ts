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

export function createDnsResolver(config: DnsConfig): DnsResolver {
  // tries: 2 — one retransmission; a dead resolver costs at most two timeouts per lookup.
  const resolver = new dns.Resolver({ timeout: config.timeoutMs, tries: 2 });
  if (config.servers.length > 0) resolver.setServers(config.servers);
  const lookup = (name: string, type: RecordType): Promise<unknown> => {
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
    resolveMx: (name) => resolver.resolveMx(name),
    resolveTxt: (name) => resolver.resolveTxt(name),
    resolve4: (name) => resolver.resolve4(name),
    resolve6: (name) => resolver.resolve6(name),
    reverse: (ip) => resolver.reverse(ip),
    lookup,
  };
}
