/**
 * A private DNS server for a benchmark: the tests' dnsmasq helper (one implementation for both),
 * stopped with the benchmark's other servers, also on an error or Ctrl-C.
 */
import { startDnsServer, type DnsServer, type DnsServerOptions } from '../../test/helpers/dns-server.js';
import { ensurePackages, log, onCleanup } from './common.js';

export type { DnsServer, DnsServerOptions };

export async function startBenchDnsServer(records: DnsServerOptions): Promise<DnsServer> {
  await ensurePackages('dnsmasq-base');
  const dns = await startDnsServer(records);
  const stop = onCleanup('dnsmasq', () => dns.stop(), () => void dns.stop());
  log(`DNS server (dnsmasq) on ${dns.servers.join(', ')}`);
  return { ...dns, stop };
}
