/**
 * DNS blocklists (RFC 5782): a client address is listed in a zone when
 * `<address reversed>.<zone>` has an A record in 127.0.0.0/8. Checked at connect on the MX
 * port, for the zones the operator configured (none by default).
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { DnsResolver } from '../../net/dns.js';

/** The 32 hexadecimal digits of an IPv6 address, e.g. "20010db8000000000000000000000001". */
function ipv6Nibbles(ip: string): string {
  const [head, tail] = ip.toLowerCase().split('::');
  const groups = (s: string | undefined) => (s ? s.split(':') : []);
  let left = groups(head);
  let right = tail === undefined ? [] : groups(tail);
  // An embedded IPv4 address ("::ffff:192.0.2.1") is two groups.
  const fixV4 = (g: string[]) => {
    const last = g[g.length - 1];
    if (!last || !isIPv4(last)) return g;
    const [a, b, c, d] = last.split('.').map(Number);
    return [...g.slice(0, -1), ((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
  };
  if (tail === undefined) left = fixV4(left);
  else right = fixV4(right);
  const missing = 8 - left.length - right.length;
  const all = tail === undefined ? left : [...left, ...Array<string>(missing).fill('0'), ...right];
  return all.map((g) => g.padStart(4, '0')).join('');
}

/** The name to look up for `ip` in `zone` (RFC 5782 2.1, 2.4); null for something that is no IP address. */
export function dnsblQueryName(ip: string, zone: string): string | null {
  const z = zone.replace(/^\.+|\.+$/g, '');
  if (isIPv4(ip)) return `${ip.split('.').reverse().join('.')}.${z}`;
  if (isIPv6(ip)) return `${ipv6Nibbles(ip).split('').reverse().join('.')}.${z}`;
  return null;
}

/**
 * Whether an answer means "listed": an address in 127.0.0.0/8 (RFC 5782 2.3). Answers in
 * 127.255.255.0/24 are the lists' own error codes (e.g. "queried through a public resolver"),
 * and answers outside 127/8 come from resolvers that rewrite NXDOMAIN; neither is a listing.
 */
export function isListingAnswer(address: string): boolean {
  return address.startsWith('127.') && !address.startsWith('127.255.255.');
}

export interface DnsblHit {
  zone: string;
  answer: string;
}

/**
 * The first of `zones` (in the configured order) that lists `ip`, or null. A zone that does not
 * answer, or answers with an error, does not list anyone: a blocklist outage must not stop mail.
 */
export async function findDnsblListing(resolver: Pick<DnsResolver, 'resolve4'>, ip: string, zones: readonly string[]): Promise<DnsblHit | null> {
  const answers = await Promise.all(
    zones.map(async (zone): Promise<DnsblHit | null> => {
      const name = dnsblQueryName(ip, zone);
      if (!name) return null;
      try {
        const listed = (await resolver.resolve4(name)).find(isListingAnswer);
        return listed ? { zone, answer: listed } : null;
      } catch {
        return null;
      }
    }),
  );
  return answers.find((a) => a !== null) ?? null;
}
