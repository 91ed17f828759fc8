/** A DnsResolver answering from a table, with node's error codes for missing names and records. */
import type { DnsResolver, RecordType } from '../../src/net/dns.js';

export interface DnsTable {
  mx?: Record<string, Array<{ exchange: string; priority: number }> | string>;
  a?: Record<string, string[] | string>;
  aaaa?: Record<string, string[] | string>;
  txt?: Record<string, string[][] | string>;
  /** Names that exist (ENODATA instead of ENOTFOUND for a missing record). */
  names?: string[];
}

function dnsError(code: string, name: string): Error {
  return Object.assign(new Error(`queryX ${code} ${name}`), { code, hostname: name });
}

/**
 * A string instead of records is an error code to fail with (e.g. 'ESERVFAIL', 'ETIMEOUT').
 * A missing record fails with ENODATA when the name has other records, else ENOTFOUND.
 */
export function fakeDns(table: DnsTable): DnsResolver & { queries: string[] } {
  const queries: string[] = [];
  const exists = (name: string) =>
    (table.names ?? []).includes(name) ||
    [table.mx, table.a, table.aaaa, table.txt].some((t) => t !== undefined && Object.prototype.hasOwnProperty.call(t, name));
  const answer = <T>(kind: string, records: Record<string, T | string> | undefined, name: string): Promise<T> => {
    queries.push(`${kind} ${name}`);
    const found = records?.[name];
    if (typeof found === 'string') return Promise.reject(dnsError(found, name));
    if (found !== undefined) return Promise.resolve(found);
    return Promise.reject(dnsError(exists(name) ? 'ENODATA' : 'ENOTFOUND', name));
  };
  const resolver = {
    queries,
    resolveMx: (name: string) => answer('MX', table.mx, name),
    resolveTxt: (name: string) => answer('TXT', table.txt, name),
    resolve4: (name: string) => answer('A', table.a, name),
    resolve6: (name: string) => answer('AAAA', table.aaaa, name),
    reverse: () => Promise.reject(dnsError('ENOTFOUND', 'reverse')),
    lookup: (name: string, type: RecordType): Promise<unknown> => {
      switch (type) {
        case 'MX':
          return resolver.resolveMx(name);
        case 'TXT':
          return resolver.resolveTxt(name);
        case 'A':
          return resolver.resolve4(name);
        case 'AAAA':
          return resolver.resolve6(name);
        default:
          return Promise.reject(dnsError('ENOTFOUND', name));
      }
    },
  };
  return resolver;
}
