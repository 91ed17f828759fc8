/**
 * The seeds' two mail servers on one machine: crepes.test (Alice's, on 127.0.0.1) and
 * hamburger.test (Bob's, on 127.0.0.2), both listening for SMTP on the same port number as
 * MX hosts on the Internet do, both resolving through a real DNS server started for the
 * test that publishes what `wharf domain dns` tells each administrator to publish.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cleanEnv, makeTempDir, removeDir, runWharf, type CliResult } from '../helpers/cli.js';
import { startDnsServer, type DnsServer, type TxtRecord } from '../helpers/dns-server.js';
import { dropProcessStore, processStoreEnv } from '../helpers/test-store.js';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';

export const ALICE = 'alice@crepes.test';
export const BOB = 'bob@hamburger.test';
export const PASSWORD = 'ketchup-and-pickles';

export interface Site {
  domain: string;
  host: string;
  hostname: string;
  dataDir: string;
  /** Extra settings for this site's server (a JSON config file). */
  configFile: string;
  server: WharfProcess | null;
  cli(args: string[], stdin?: string): Promise<CliResult>;
}

export interface TwoDomains {
  alice: Site;
  bob: Site;
  dns: DnsServer;
  /** The SMTP port both servers listen on (and deliver to). */
  smtpPort: number;
  /** Starts (or restarts, on the same data and ports) a site's server. */
  start(site: Site): Promise<WharfProcess>;
  close(): Promise<void>;
}

/** A port free on both loopback addresses (the OS's choice on 127.0.0.1, checked on 127.0.0.2). */
async function freeSharedPort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
      s.on('error', reject);
    });
    const free = await new Promise<boolean>((resolve) => {
      const s = net.createServer().listen(port, '127.0.0.2', () => s.close(() => resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (free) return port;
  }
  throw new Error('no port free on both 127.0.0.1 and 127.0.0.2');
}

/**
 * The TXT records in `wharf domain dns` output (zone-file lines, a record's strings possibly
 * in parentheses over several lines), with the strings of each record joined.
 */
export function txtRecordsOf(zone: string): TxtRecord[] {
  const records: TxtRecord[] = [];
  const text = zone.replace(/;[^\n"]*$/gm, '');
  const re = /^(\S+)\s+(?:\d+\s+)?(?:IN\s+)?TXT\s+(\([^)]*\)|(?:"(?:[^"\\]|\\.)*"\s*)+)/gm;
  for (const m of text.matchAll(re)) {
    const strings = [...m[2].matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((s) => s[1].replace(/\\(.)/g, '$1'));
    records.push({ name: m[1].replace(/\.$/, ''), value: [strings.join('')] });
  }
  return records;
}

async function makeSite(domain: string, host: string): Promise<Site> {
  const dataDir = await makeTempDir(`wharf-${domain.split('.')[0]}-`);
  const storeEnv = await processStoreEnv(dataDir);
  const site: Site = {
    domain,
    host,
    hostname: `mx.${domain}`,
    dataDir,
    configFile: path.join(dataDir, 'site.json'),
    server: null,
    cli: (args, stdin) => runWharf(args, { stdin, env: cleanEnv({ WHARF_DATA: dataDir, WHARF_HOSTNAME: `mx.${domain}`, ...storeEnv }) }),
  };
  return site;
}

async function must(result: Promise<CliResult>): Promise<CliResult> {
  const r = await result;
  assert.equal(r.code, 0, r.stderr);
  return r;
}

export interface TwoDomainsOptions {
  /** Settings merged into both sites' config files (e.g. quick retries). */
  settings?: Record<string, unknown>;
}

export async function startTwoDomains(opts: TwoDomainsOptions = {}): Promise<TwoDomains> {
  const alice = await makeSite('crepes.test', '127.0.0.1');
  const bob = await makeSite('hamburger.test', '127.0.0.2');
  const records: TxtRecord[] = [];
  for (const [site, user] of [
    [alice, ALICE],
    [bob, BOB],
  ] as const) {
    await must(site.cli(['domain', 'add', site.domain]));
    await must(site.cli(['user', 'add', user, '--password-stdin'], `${PASSWORD}\n`));
    const zone = await must(site.cli(['domain', 'dns', site.domain]));
    records.push(...txtRecordsOf(zone.stdout));
  }
  // The sites publish the strictest DMARC policy, so a forged From: is refused, not filed as junk.
  for (const r of records) if (r.name.startsWith('_dmarc.')) r.value = [`v=DMARC1; p=reject; rua=mailto:postmaster@${r.name.slice(7)}`];
  assert.ok(records.some((r) => r.name.includes('._domainkey.crepes.test')), 'a DKIM record for crepes.test');
  const dns = await startDnsServer({
    mx: [
      { domain: alice.domain, host: alice.hostname, preference: 10 },
      { domain: bob.domain, host: bob.hostname, preference: 10 },
    ],
    a: [
      { name: alice.hostname, address: alice.host },
      { name: bob.hostname, address: bob.host },
    ],
    txt: records,
  });
  const smtpPort = await freeSharedPort();
  const settings = {
    delivery: { port: smtpPort, firstRetryMs: 1_000, maxRetryMs: 2_000, mtaSts: false },
    ...(opts.settings ?? {}),
  };
  for (const site of [alice, bob]) await writeFile(site.configFile, JSON.stringify(settings));

  const env = (site: Site): Record<string, string> => ({
    WHARF_CONFIG: site.configFile,
    WHARF_HOST: site.host,
    WHARF_HOSTNAME: site.hostname,
    WHARF_SMTP_PORT: String(smtpPort),
    WHARF_DNS_SERVERS: dns.servers.join(','),
  });
  const start = async (site: Site): Promise<WharfProcess> => {
    if (site.server?.alive()) await site.server.stop('SIGKILL');
    site.server = await startWharf({ dataDir: site.dataDir, env: env(site) });
    return site.server;
  };
  await start(alice);
  await start(bob);
  return {
    alice,
    bob,
    dns,
    smtpPort,
    start,
    async close() {
      for (const site of [alice, bob]) {
        if (site.server?.alive()) await site.server.stop().catch(() => site.server?.stop('SIGKILL'));
        await removeDir(site.dataDir);
        await dropProcessStore(site.dataDir);
      }
      await dns.stop();
    },
  };
}
