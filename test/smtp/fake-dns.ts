/**
 * A DnsResolver that answers from a table the test fills, so the SPF, DKIM, DMARC and
 * blocklist records a test needs come from the test itself. Names not in the table do not
 * exist (ENOTFOUND); a name can also be made to fail (SERVFAIL) or to answer slowly.
 */
import type { DnsResolver, RecordType } from '../../src/net/dns.js';

type Answer = string[] | string[][] | Array<{ exchange: string; priority: number }>;

function dnsError(code: string, name: string): Error {
  return Object.assign(new Error(`query ${code} ${name}`), { code, hostname: name });
}

export class FakeDns implements DnsResolver {
  private readonly records = new Map<string, Answer>();
  private readonly failing = new Set<string>();
  /** Every query, as "TYPE name". */
  readonly queries: string[] = [];
  /** Milliseconds each answer takes. */
  delayMs = 0;
  /** Every query fails with SERVFAIL (a broken resolver). */
  allFail = false;

  private key(type: RecordType, name: string) {
    return `${type} ${name.toLowerCase().replace(/\.$/, '')}`;
  }

  /** TXT records: each string is one record (long ones are split into 255-character strings). */
  txt(name: string, ...values: string[]): this {
    this.records.set(this.key('TXT', name), values.map((v) => v.match(/.{1,255}/g) ?? ['']));
    return this;
  }

  a(name: string, ...addresses: string[]): this {
    this.records.set(this.key('A', name), addresses);
    return this;
  }

  /** Queries of `type` for `name` fail with SERVFAIL. */
  fail(type: RecordType, name: string): this {
    this.failing.add(this.key(type, name));
    return this;
  }

  async lookup(name: string, type: RecordType): Promise<unknown> {
    const key = this.key(type, name);
    this.queries.push(key);
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.allFail || this.failing.has(key)) throw dnsError('ESERVFAIL', name);
    const answer = this.records.get(key);
    if (!answer) throw dnsError('ENOTFOUND', name);
    return answer;
  }

  resolveTxt = (name: string) => this.lookup(name, 'TXT') as Promise<string[][]>;
  resolve4 = (name: string) => this.lookup(name, 'A') as Promise<string[]>;
  resolve6 = (name: string) => this.lookup(name, 'AAAA') as Promise<string[]>;
  resolveMx = (name: string) => this.lookup(name, 'MX') as Promise<Array<{ exchange: string; priority: number }>>;
  reverse = (ip: string) => this.lookup(ip, 'PTR') as Promise<string[]>;
}
