/**
 * MTA-STS (RFC 8461): a domain says in DNS (TXT "_mta-sts.<domain>": "v=STSv1; id=...") that
 * it publishes a policy at https://mta-sts.<domain>/.well-known/mta-sts.txt. In mode
 * 'enforce', mail may only go to MX hosts matching the policy's patterns, over TLS with a
 * certificate that verifies. Policies are cached in memory by domain until max_age, and
 * fetched again only when the id in DNS changes.
 */
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import net from 'node:net';
import tls from 'node:tls';
import { isNoRecords, type DnsResolver } from '../net/dns.js';
import type { Logger } from '../net/types.js';
import { resolveAddresses } from './mx.js';

export type MtaStsMode = 'enforce' | 'testing' | 'none';

export interface MtaStsPolicy {
  /** The id from the TXT record the policy was fetched for. */
  id: string;
  mode: MtaStsMode;
  /** MX patterns: "mx.example.com" or "*.example.net" (one leftmost label). */
  mx: string[];
  /** Seconds the policy may be cached. */
  maxAge: number;
}

export interface MtaStsOptions {
  dns: DnsResolver;
  log?: Logger;
  /**
   * Fetches the policy text of a domain. The default fetches it over HTTPS from
   * mta-sts.<domain> (see `fetchPolicyOverHttps`); tests replace the port and CA instead.
   */
  fetchPolicy?: (domain: string) => Promise<string>;
  /** Port of the policy host for the default fetch (443). */
  httpsPort?: number;
  /** CA certificates (PEM) trusted for the policy host besides the system's. */
  ca?: string[];
  /** Time limit of one policy fetch. */
  timeoutMs?: number;
  now?: () => number;
}

/** RFC 8461 3.2: no policy is kept longer than a year. */
const MAX_AGE_LIMIT = 31_557_600;
/** RFC 8461 3.3: a policy body is small; more is an error. */
const MAX_POLICY_BYTES = 64 * 1024;
const DEFAULT_FETCH_TIMEOUT_MS = 60_000;

export class MtaStsResolver {
  private readonly cache = new Map<string, { policy: MtaStsPolicy; expiresAt: number }>();
  private readonly inFlight = new Map<string, Promise<MtaStsPolicy | null>>();
  private readonly fetchPolicy: (domain: string) => Promise<string>;
  private readonly now: () => number;

  constructor(private readonly opts: MtaStsOptions) {
    this.now = opts.now ?? Date.now;
    this.fetchPolicy =
      opts.fetchPolicy ??
      ((domain) =>
        fetchPolicyOverHttps(domain, {
          dns: opts.dns,
          port: opts.httpsPort,
          ca: opts.ca,
          timeoutMs: opts.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS,
        }));
  }

  /** The policy in force for `domain`, or null when it has none (or none could be had). */
  policyFor(domain: string): Promise<MtaStsPolicy | null> {
    domain = domain.toLowerCase().replace(/\.$/, '');
    let pending = this.inFlight.get(domain);
    if (!pending) {
      pending = this.lookup(domain).finally(() => this.inFlight.delete(domain));
      this.inFlight.set(domain, pending);
    }
    return pending;
  }

  private async lookup(domain: string): Promise<MtaStsPolicy | null> {
    const entry = this.cache.get(domain);
    const cached = entry && entry.expiresAt > this.now() ? entry.policy : null;
    let id: string | null;
    try {
      id = parseTxtRecords(await this.opts.dns.resolveTxt(`_mta-sts.${domain}`));
    } catch (err) {
      // No record at all, or DNS trouble: a cached policy stays in force until it expires
      // (RFC 8461 5.1), so an attacker who blocks the TXT lookup gains nothing.
      if (!isNoRecords(err)) this.opts.log?.warn('mta-sts txt lookup failed', { domain, error: errorText(err) });
      return cached;
    }
    if (id === null) return cached;
    if (cached && cached.id === id) return cached;
    try {
      const text = await this.fetchPolicy(domain);
      const policy: MtaStsPolicy = { id, ...parsePolicy(text) };
      this.cache.set(domain, { policy, expiresAt: this.now() + policy.maxAge * 1000 });
      this.opts.log?.info('mta-sts policy', { domain, id, mode: policy.mode, mx: policy.mx, maxAge: policy.maxAge });
      return policy;
    } catch (err) {
      // RFC 8461 5.1: without a fetchable policy, go on as if there were none (or the cached one).
      this.opts.log?.warn('mta-sts policy fetch failed', { domain, error: errorText(err) });
      return cached;
    }
  }
}

/** The id of the one "v=STSv1" TXT record, or null when there is none or more than one. */
export function parseTxtRecords(records: string[][]): string | null {
  const sts = records.map((chunks) => chunks.join('')).filter((r) => /^v=STSv1\s*(;|$)/.test(r));
  if (sts.length !== 1) return null;
  for (const field of sts[0].split(';')) {
    const m = /^\s*id\s*=\s*([A-Za-z0-9]{1,32})\s*$/.exec(field);
    if (m) return m[1];
  }
  return null;
}

/** Reads a policy body (RFC 8461 3.2); throws on anything that is not a valid policy. */
export function parsePolicy(text: string): Omit<MtaStsPolicy, 'id'> {
  const fields = new Map<string, string>();
  const mx: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`malformed policy line ${JSON.stringify(line.slice(0, 60))}`);
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (key === 'mx') mx.push(value.toLowerCase().replace(/\.$/, ''));
    else if (!fields.has(key)) fields.set(key, value);
  }
  if (fields.get('version') !== 'STSv1') throw new Error('policy version is not STSv1');
  const mode = fields.get('mode');
  if (mode !== 'enforce' && mode !== 'testing' && mode !== 'none') throw new Error(`bad policy mode ${JSON.stringify(mode)}`);
  const maxAgeText = fields.get('max_age') ?? '';
  if (!/^\d{1,10}$/.test(maxAgeText)) throw new Error('bad or missing max_age');
  const maxAge = Math.min(Number(maxAgeText), MAX_AGE_LIMIT);
  if (mode !== 'none' && mx.length === 0) throw new Error('policy names no mx');
  return { mode, mx, maxAge };
}

/** Whether MX host `host` matches a policy pattern (RFC 8461 4.1). */
export function mxMatches(pattern: string, host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  const p = pattern.toLowerCase();
  if (p.startsWith('*.')) {
    const dot = name.indexOf('.');
    return dot > 0 && name.slice(dot + 1) === p.slice(2);
  }
  return name === p;
}

export function hostMatchesPolicy(policy: MtaStsPolicy, host: string): boolean {
  return policy.mx.some((p) => mxMatches(p, host));
}

/**
 * GET https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461 3.3): the certificate must
 * verify for that name, redirects are not followed, only a 200 text/plain body counts. The
 * host name is resolved through our resolver, like every other lookup.
 */
export function fetchPolicyOverHttps(
  domain: string,
  opts: { dns: DnsResolver; port?: number; ca?: string[]; timeoutMs: number },
): Promise<string> {
  const host = `mta-sts.${domain}`;
  return new Promise((resolve, reject) => {
    const req = https.get(
      {
        host,
        port: opts.port ?? 443,
        path: '/.well-known/mta-sts.txt',
        servername: host,
        ca: opts.ca && opts.ca.length > 0 ? [...tls.rootCertificates, ...opts.ca] : undefined,
        lookup: lookupThrough(opts.dns),
        timeout: opts.timeoutMs,
        agent: false,
        headers: { accept: 'text/plain' },
      },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return reject(new Error(`policy fetch answered HTTP ${res.statusCode}`));
        }
        const type = String(res.headers['content-type'] ?? '');
        if (!/^text\/plain\s*(;|$)/i.test(type)) {
          res.resume();
          return reject(new Error(`policy has media type ${JSON.stringify(type)}, not text/plain`));
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_POLICY_BYTES) {
            req.destroy(new Error(`policy larger than ${MAX_POLICY_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`policy fetch took longer than ${opts.timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** A `lookup` for node's sockets that asks our DNS resolver. */
function lookupThrough(dns: DnsResolver): LookupFunction {
  return ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    resolveAddresses(dns, hostname).then(
      (result) => {
        if (result.addresses.length === 0) {
          const err = Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' });
          return callback(err, options.all ? [] : '', 4);
        }
        const entries = result.addresses.map((address) => ({ address, family: net.isIPv6(address) ? 6 : 4 }));
        if (options.all) callback(null, entries);
        else callback(null, entries[0].address, entries[0].family);
      },
      (err) => callback(err, options.all ? [] : '', 4),
    );
  }) as unknown as LookupFunction;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
