/**
 * The sender domain's DKIM key record as Wharf's admin CLI prints it (`wharf domain dns NAME`,
 * zone-file syntax), for the benchmark's DNS server to publish, so that the sending server's
 * signatures verify at the receiving one as they would on the Internet.
 */
import { wharfCli } from '../lib/wharf.js';

export interface TxtRecordValue {
  name: string;
  value: string;
}

/** The DKIM TXT record in zone-file lines (a long one split into strings in parentheses), or null. */
export function dkimRecordFromZone(zone: string): TxtRecordValue | null {
  const lines = zone.split('\n');
  const i = lines.findIndex((l) => /^[^\s;]+\._domainkey\.\S*\s/.test(l) && /\sTXT\s/.test(l));
  if (i < 0) return null;
  const name = lines[i]!.split(/\s+/)[0]!.replace(/\.$/, '');
  let text = lines[i]!;
  // A record written in parentheses goes on over the following lines, up to the ')'.
  if (/\sTXT\s+\(/.test(text)) for (let j = i + 1; j < lines.length && !text.includes(')'); j++) text += '\n' + lines[j];
  const rdata = text.slice(text.search(/\sTXT\s/) + 5);
  const strings = [...rdata.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\(.)/g, '$1'));
  return strings.length > 0 ? { name, value: strings.join('') } : null;
}

/**
 * The DKIM record for `domain` of the Wharf data in `dataDir`, or null when this Wharf has no
 * `domain dns` command or the domain has no key (then nothing is signed, and the report says so).
 */
export async function wharfDkimRecord(dataDir: string, domain: string): Promise<TxtRecordValue | null> {
  try {
    return dkimRecordFromZone((await wharfCli(dataDir, ['domain', 'dns', domain])).stdout);
  } catch {
    return null;
  }
}
