/**
 * The DNS records a mail domain served by Wharf publishes, in zone-file syntax (RFC 1035 5):
 * MX, SPF (RFC 7208), the DKIM key (RFC 6376 3.6), DMARC (RFC 7489) and the service records
 * mail clients use to find the servers (RFC 6186, RFC 8314 5.1).
 */
import type { WharfConfig } from '../config/types.js';
import { dkimRecordName, dkimTxtRecord } from '../smtp/dkim-keys.js';
import type { DkimKey } from '../store/types.js';

const TTL = 3600;
/** One character-string of a TXT record holds at most 255 octets (RFC 1035 3.3). */
export const TXT_STRING_MAX = 255;

/** A TXT value as quoted character-strings of at most 255 characters each. */
export function txtStrings(value: string): string[] {
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += TXT_STRING_MAX) parts.push(value.slice(i, i + TXT_STRING_MAX));
  return parts.map((p) => `"${p.replace(/["\\]/g, (c) => `\\${c}`)}"`);
}

const fqdn = (name: string) => (name.endsWith('.') ? name : `${name}.`);

function record(name: string, type: string, data: string): string {
  return `${fqdn(name).padEnd(40)} ${TTL} IN ${type.padEnd(4)} ${data}`;
}

function txt(name: string, value: string): string {
  const strings = txtStrings(value);
  const head = record(name, 'TXT', '');
  if (strings.length === 1) return head + strings[0];
  // Several strings of one record go in parentheses, which may span lines in a zone file.
  return `${head}( ${strings.join('\n' + ' '.repeat(head.length + 2))} )`;
}

/** The SRV services of RFC 6186 / RFC 8314 that Wharf serves, with the port each one uses. */
function srvServices(config: WharfConfig): Array<[service: string, port: number]> {
  const p = config.ports;
  return [
    ['_submissions._tcp', p.submissions],
    ['_submission._tcp', p.submission],
    ['_imaps._tcp', p.imaps],
    ['_imap._tcp', p.imap],
    ['_pop3s._tcp', p.pop3s],
  ];
}

/** Every record to publish for `domain`, as zone-file lines (comments start with ';'). */
export function domainDnsRecords(domain: string, config: WharfConfig, dkim: DkimKey | null): string[] {
  const name = domain.toLowerCase();
  const host = fqdn(config.hostname);
  const lines = [
    `; DNS records for ${name}, in zone-file syntax.`,
    `; The mail server's own name (${host}) needs A/AAAA records and a matching reverse (PTR) record too.`,
    record(name, 'MX', `10 ${host}`),
    txt(name, 'v=spf1 mx -all'),
  ];
  if (dkim) {
    lines.push(txt(dkimRecordName(name, dkim.selector), dkimTxtRecord(dkim)));
  } else {
    lines.push(`; no DKIM key yet: wharf domain dkim ${name}`);
  }
  lines.push(txt(`_dmarc.${name}`, `v=DMARC1; p=quarantine; rua=mailto:postmaster@${name}`));
  lines.push(`; Where mail clients find the servers (RFC 6186). The ports are the configured ones:`);
  lines.push(`; if a firewall maps them (e.g. 2587 to 587), publish the public ports instead.`);
  for (const [service, port] of srvServices(config)) lines.push(record(`${service}.${name}`, 'SRV', `0 1 ${port} ${host}`));
  return lines;
}
