/**
 * A real DNS server for a test: Debian's dnsmasq, in the foreground, on a free high port of
 * 127.0.0.1 (UDP and TCP), answering only from the records the test gives. It reads no
 * resolv.conf, no /etc/hosts and no system configuration, and forwards nothing: a name in one
 * of the test's zones without a record is NXDOMAIN, a name with records but not of the type
 * asked is an empty answer (NODATA), and any other name is refused.
 *
 * Used where Wharf must find mail servers and keys the way it does on the Internet (MX, A,
 * SPF and DKIM TXT records) through `dns.servers` / WHARF_DNS_SERVERS.
 *
 * Every name under 127/8 is this machine (Linux routes the whole block to `lo`), so A records
 * like `mx.example.test → 127.0.0.2` give a second "host" on the same port numbers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import dgram from 'node:dgram';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface MxRecord {
  domain: string;
  /** The mail host; '.' with preference 0 is a null MX (RFC 7505: the domain takes no mail). */
  host: string;
  preference: number;
}

export interface ARecord {
  name: string;
  address: string;
}

export interface TxtRecord {
  name: string;
  /**
   * One TXT record. A string longer than 255 bytes (a DKIM key) is split into 255-byte
   * character strings, as a zone file would; readers join them (RFC 7208 3.3, RFC 6376 3.6.2.2).
   * An array gives the character strings as they are.
   */
  value: string | string[];
}

export interface DnsServerOptions {
  mx?: MxRecord[];
  a?: ARecord[];
  txt?: TxtRecord[];
  /**
   * Zones answered only from these records (NXDOMAIN for any other name in them). Default:
   * the top-level label of every name given (e.g. `test`).
   */
  zones?: string[];
}

export interface DnsServer {
  host: string;
  port: number;
  /** For `dns.servers` / WHARF_DNS_SERVERS: `['127.0.0.1:PORT']`. */
  servers: string[];
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
/** Largest character-string in a TXT record (RFC 1035 3.3: one length octet). */
const MAX_TXT_STRING = 255;
const START_ATTEMPTS = 5;
const READY_TIMEOUT_MS = 10_000;

const running = new Set<ChildProcess>();
// A failed test must not leave a DNS server behind.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** The dnsmasq program: on PATH, or where Debian's dnsmasq-base puts it (sbin, often not on PATH). */
function dnsmasqCommand(): string {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).concat(['/usr/sbin', '/sbin']);
  for (const dir of dirs.filter(Boolean)) {
    const candidate = path.join(dir, 'dnsmasq');
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  throw new Error('dnsmasq is not installed: apt-get install -y --no-install-recommends dnsmasq-base');
}

/** The character strings of one TXT value, each at most 255 bytes (split on UTF-8 byte boundaries). */
export function txtStrings(value: string | string[]): string[] {
  if (Array.isArray(value)) return value;
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length <= MAX_TXT_STRING) return [value];
  const out: string[] = [];
  let start = 0;
  while (start < bytes.length) {
    let end = Math.min(start + MAX_TXT_STRING, bytes.length);
    // Do not cut a multi-byte character in two (continuation bytes are 10xxxxxx).
    while (end < bytes.length && (bytes[end]! & 0xc0) === 0x80) end--;
    out.push(bytes.subarray(start, end).toString('utf8'));
    start = end;
  }
  return out;
}

/** A quoted string for dnsmasq's configuration file (quotes keep commas; \\ and \" escape). */
function quote(s: string): string {
  if (/[\r\n\0]/.test(s)) throw new Error(`TXT string with a line break or NUL cannot be served: ${JSON.stringify(s)}`);
  return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

function checkName(name: string): string {
  if (!/^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/.test(name) || name.includes('..')) {
    throw new Error(`not a DNS name for the test server: ${JSON.stringify(name)}`);
  }
  return name.toLowerCase();
}

function configLines(opts: DnsServerOptions): string[] {
  const lines: string[] = [];
  const names: string[] = [];
  for (const r of opts.mx ?? []) {
    if (!Number.isInteger(r.preference) || r.preference < 0 || r.preference > 65535) throw new Error(`MX preference out of range: ${r.preference}`);
    const host = r.host === '.' ? '.' : checkName(r.host);
    lines.push(`mx-host=${checkName(r.domain)},${host},${r.preference}`);
    names.push(r.domain);
    if (host !== '.') names.push(host);
  }
  for (const r of opts.a ?? []) {
    if (!net.isIPv4(r.address)) throw new Error(`not an IPv4 address: ${r.address}`);
    // host-record answers for exactly this name (address=/name/ would cover every name under it too).
    lines.push(`host-record=${checkName(r.name)},${r.address}`);
    names.push(r.name);
  }
  for (const r of opts.txt ?? []) {
    lines.push(`txt-record=${checkName(r.name)},${txtStrings(r.value).map(quote).join(',')}`);
    names.push(r.name);
  }
  const zones = opts.zones ?? [...new Set(names.map((n) => n.toLowerCase().split('.').pop()!))];
  for (const zone of zones.length > 0 ? zones : ['test']) lines.push(`local=/${checkName(zone)}/`);
  return lines;
}

/** A port free on 127.0.0.1 for both TCP and UDP a moment ago. */
async function freeUdpTcpPort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = net.createServer();
      srv.once('error', reject);
      srv.listen(0, HOST, () => {
        const address = srv.address();
        srv.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const sock = dgram.createSocket('udp4');
      sock.once('error', () => resolve(false));
      sock.bind(port, HOST, () => sock.close(() => resolve(true)));
    });
    if (port && udpFree) return port;
  }
  throw new Error('no port free for both UDP and TCP on 127.0.0.1');
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: HOST, port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/** Starts dnsmasq once on `port`; rejects (with its output) if it exits or does not listen in time. */
async function startOnce(command: string, confFile: string, port: number): Promise<ChildProcess> {
  const args = [
    '--keep-in-foreground',
    `--conf-file=${confFile}`, // nothing from /etc/dnsmasq.conf or /etc/dnsmasq.d
    '--no-resolv', // no upstream servers: nothing is forwarded
    '--no-hosts', // not /etc/hosts
    '--no-poll',
    '--no-negcache',
    `--listen-address=${HOST}`,
    '--bind-interfaces', // only that address, not every interface
    `--port=${port}`,
    '--pid-file', // none
    '--log-facility=-', // errors to stderr, not syslog
  ];
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    });
    child.once('error', (err) => {
      running.delete(child);
      stderr += String(err);
      resolve(127);
    });
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    // dnsmasq opens its UDP and TCP sockets before it serves, so TCP accepting means ready.
    if (await canConnect(port)) return child;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  const code = await exited;
  throw new Error(`dnsmasq on ${HOST}:${port} did not start (exit ${code}): ${stderr.trim().slice(0, 1000)}`);
}

export async function startDnsServer(opts: DnsServerOptions = {}): Promise<DnsServer> {
  const command = dnsmasqCommand();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wharf-dns-'));
  const confFile = path.join(dir, 'dnsmasq.conf');
  await writeFile(confFile, configLines(opts).join('\n') + '\n');
  let child: ChildProcess | undefined;
  let port = 0;
  let lastErr: unknown;
  // Another process may take the port between choosing it and dnsmasq binding it: try again.
  for (let attempt = 0; attempt < START_ATTEMPTS && !child; attempt++) {
    port = await freeUdpTcpPort();
    try {
      child = await startOnce(command, confFile, port);
    } catch (err) {
      lastErr = err;
    }
  }
  if (!child) {
    await rm(dir, { recursive: true, force: true });
    throw lastErr instanceof Error ? lastErr : new Error(String(lastErr));
  }
  const proc = child;
  let stopped: Promise<void> | undefined;
  return {
    host: HOST,
    port,
    servers: [`${HOST}:${port}`],
    stop() {
      stopped ??= (async () => {
        if (proc.exitCode === null && proc.signalCode === null) {
          const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
          proc.kill('SIGTERM');
          const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(timer);
        }
        running.delete(proc);
        await rm(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
