/**
 * Where mail for a domain goes (RFC 5321 5.1): its MX hosts in preference order, with the
 * hosts of equal preference in random order so that load spreads over them; the domain
 * itself when it has no MX (the "implicit MX"). Every answer that is not a list of hosts to
 * try is a per-domain outcome: a null MX (RFC 7505) or a domain that does not exist bounce,
 * a DNS failure defers, and an MX list that leads back to this server is a mail loop.
 */
import net from 'node:net';
import os from 'node:os';
import type { WharfConfig } from '../config/types.js';
import { isNoRecords, type DnsResolver } from '../net/dns.js';

export interface MailHost {
  /** Host name (lower case, no trailing dot), or the IP address itself. */
  name: string;
  preference: number;
  /** IPv4 addresses first, then IPv6. */
  addresses: string[];
}

export type MailHostsResult =
  | { ok: true; hosts: MailHost[]; /** No MX records: the domain's own addresses. */ implicit: boolean }
  | { ok: false; outcome: 'bounced' | 'deferred'; reply: string };

/** How this server is recognised in an MX list (to avoid sending mail to itself). */
export interface OwnIdentity {
  /** Our host name, lower case. */
  hostname: string;
  /** Addresses on which our MX listener answers on the port delivery connects to. */
  addresses: Set<string>;
}

type AddressLookup = { addresses: string[]; error: null } | { addresses: []; error: string; definite: boolean };

const normalizeName = (name: string) => name.trim().toLowerCase().replace(/\.$/, '');

/**
 * Who we are, for loop detection: the configured host name, and our listen addresses when
 * delivery connects to the same port our MX listener is on (on a wildcard listener, every
 * address of this machine).
 */
export function ownIdentity(config: Pick<WharfConfig, 'hostname' | 'host' | 'ports' | 'delivery'>): OwnIdentity {
  const addresses = new Set<string>();
  if (config.ports.smtp === config.delivery.port) {
    if (config.host === '0.0.0.0' || config.host === '::' || config.host === '') {
      for (const list of Object.values(os.networkInterfaces())) {
        for (const info of list ?? []) addresses.add(info.address);
      }
    } else {
      addresses.add(config.host);
    }
  }
  return { hostname: normalizeName(config.hostname), addresses };
}

/** The addresses of a host name (A and AAAA), or why there are none. */
export async function resolveAddresses(dns: DnsResolver, name: string): Promise<AddressLookup> {
  if (net.isIP(name)) return { addresses: [name], error: null };
  const [v4, v6] = await Promise.allSettled([dns.resolve4(name), dns.resolve6(name)]);
  const addresses = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
  if (addresses.length > 0) return { addresses, error: null };
  const failures = [v4, v6].filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason);
  const definite = failures.every(isNoRecords);
  return { addresses: [], error: failures.map(errorCode).join('/') || 'no address', definite };
}

/** Shuffles each run of equal preferences in place (Fisher-Yates). */
function shuffleEqualPreferences<T extends { preference: number }>(hosts: T[], random: () => number): T[] {
  hosts.sort((a, b) => a.preference - b.preference);
  let start = 0;
  while (start < hosts.length) {
    let end = start + 1;
    while (end < hosts.length && hosts[end].preference === hosts[start].preference) end++;
    for (let i = end - 1; i > start; i--) {
      const j = start + Math.floor(random() * (i - start + 1));
      [hosts[i], hosts[j]] = [hosts[j], hosts[i]];
    }
    start = end;
  }
  return hosts;
}

/**
 * The hosts to try for `domain`, best first. `random` is injectable so that a test can check
 * the order among equal preferences.
 */
export async function findMailHosts(
  domain: string,
  dns: DnsResolver,
  self: OwnIdentity,
  random: () => number = Math.random,
): Promise<MailHostsResult> {
  domain = normalizeName(domain);
  let records: Array<{ exchange: string; priority: number }>;
  let implicit = false;
  try {
    records = await dns.resolveMx(domain);
  } catch (err) {
    const code = errorCode(err);
    if (code === 'ENOTFOUND' || code === 'NXDOMAIN') {
      return { ok: false, outcome: 'bounced', reply: `550 5.1.2 Domain ${domain} does not exist (no such domain in DNS)` };
    }
    if (!isNoRecords(err)) {
      return { ok: false, outcome: 'deferred', reply: `451 4.4.3 DNS lookup of the MX of ${domain} failed (${code})` };
    }
    records = [];
  }

  const named = records.map((r) => ({ name: normalizeName(r.exchange), preference: r.priority }));
  if (named.length > 0 && named.every((r) => r.name === '')) {
    // RFC 7505: "MX 0 ." says the domain takes no mail at all.
    return { ok: false, outcome: 'bounced', reply: `556 5.1.10 Domain ${domain} does not accept mail (null MX)` };
  }
  // A null MX next to real ones is a publishing mistake (RFC 7505 3): use the real ones.
  let candidates = named.filter((r) => r.name !== '');
  if (candidates.length === 0) {
    // No MX: the domain itself is the mail host (RFC 5321 5.1).
    implicit = true;
    candidates = [{ name: domain, preference: 0 }];
  }

  const lookups = await Promise.all(candidates.map((c) => resolveAddresses(dns, c.name)));
  const hosts: MailHost[] = candidates.map((c, i) => ({ ...c, addresses: sortAddresses(lookups[i].addresses) }));

  // RFC 5321 5.1: if we are in the list, only more preferred hosts may be tried.
  const own = hosts.filter((h) => h.name === self.hostname || h.addresses.some((a) => self.addresses.has(a)));
  let usable = hosts;
  if (own.length > 0) {
    const ours = Math.min(...own.map((h) => h.preference));
    usable = hosts.filter((h) => h.preference < ours);
    if (usable.length === 0) {
      return {
        ok: false,
        outcome: 'bounced',
        reply: `554 5.4.6 Mail for ${domain} loops back to myself (MX ${own[0].name} is this server)`,
      };
    }
  }

  const reachable = usable.filter((h) => h.addresses.length > 0);
  if (reachable.length === 0) {
    const failed = usable.map((h) => lookups[hosts.indexOf(h)]);
    const definite = failed.every((l) => l.error !== null && l.definite);
    const what = implicit ? `${domain} has no MX and no address record` : `no MX host of ${domain} has an address`;
    return definite
      ? { ok: false, outcome: 'bounced', reply: implicit ? `550 5.1.2 ${what}` : `550 5.4.4 ${what}` }
      : { ok: false, outcome: 'deferred', reply: `451 4.4.3 DNS lookup of the mail hosts of ${domain} failed` };
  }
  return { ok: true, hosts: shuffleEqualPreferences(reachable, random), implicit };
}

function sortAddresses(addresses: string[]): string[] {
  const v4 = addresses.filter((a) => net.isIPv4(a));
  const v6 = addresses.filter((a) => !net.isIPv4(a));
  return [...new Set([...v4, ...v6])];
}

function errorCode(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
}
