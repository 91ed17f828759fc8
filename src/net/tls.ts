import { constants as cryptoConstants, randomBytes, X509Certificate } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import type { TlsConfig } from '../config/types.js';
import type { Logger, TlsMaterial } from './types.js';
import { TlsSessionCache } from './tls-sessions.js';
import { renewListenerTickets, renewTicketsOnResumption } from './tls-tickets.js';

/**
 * Mozilla's "intermediate" server profile (v5.7) without the DHE suites (they need DH
 * parameters and add nothing a current client lacks): forward secrecy (ECDHE) and an AEAD
 * cipher for TLS 1.2, OpenSSL's three TLS 1.3 suites. Clients from 2013 on (Android 4.4.2,
 * Java 8, Outlook 2013, Thunderbird, every current MUA) negotiate one of these.
 */
export const SERVER_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/**
 * The policy of every TLS place where Wharf is the server (implicit ports, STARTTLS/STLS/AUTH
 * TLS, FTP data connections). TLS 1.2 is the floor (RFC 8996 retired 1.0 and 1.1). Our
 * cipher order wins; TLS compression (CRIME) and renegotiation (a client-triggered CPU cost,
 * and the old injection attacks) are off. The outbound SMTP client also needs TLS 1.2 but keeps
 * Node's broader cipher list: opportunistic TLS to an old MX is still better than the clear
 * text it would fall back to.
 */
export const SERVER_TLS_POLICY = {
  minVersion: 'TLSv1.2' as const,
  ciphers: SERVER_CIPHERS,
  honorCipherOrder: true,
  secureOptions: cryptoConstants.SSL_OP_NO_COMPRESSION | cryptoConstants.SSL_OP_NO_RENEGOTIATION,
};

/** A certificate chain and its private key, PEM. */
export interface CertificatePair {
  certPem: string;
  keyPem: string;
}

/** The default certificate and those chosen by SNI, as read from the configured files. */
export interface CertificateSet {
  fallback: CertificatePair;
  /** `hostnames` are exact names or `*.domain` (one label, as RFC 6125 wildcards). */
  byHostname: Array<CertificatePair & { hostnames: string[] }>;
}

/** What `reload` reports: fingerprints and names, never key material. */
export interface LoadedCertificate {
  hostnames: string[] | 'default';
  fingerprint: string;
  notAfter: string;
}

interface Contexts {
  fallback: CertificatePair & { context: tls.SecureContext };
  exact: Map<string, tls.SecureContext>;
  /** `example.net` for `*.example.net`. */
  wildcard: Map<string, tls.SecureContext>;
}

function normalizeHostname(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

/**
 * The certificates every TLS listener and STARTTLS upgrade uses, swappable while running
 * (`replace`, `reload` on SIGHUP): each new handshake takes the current ones, sessions already
 * up keep theirs. Every context shares one set of session ticket keys, one session id
 * context and one cache of sessions by id, so a session made on one (an FTP control
 * connection) resumes on another (its data connections), also across a reload. With
 * `renewTickets` each renews a ticket it accepts, so a client using each ticket once never
 * runs out (tls-tickets.ts).
 */
export class ReloadableTlsMaterial implements TlsMaterial {
  private readonly ticketKeys = randomBytes(48);
  private readonly sessionIdContext = randomBytes(16).toString('hex');
  private contexts: Contexts;
  private readonly servers = new Set<tls.Server>();
  /** Whether renewal was asked for and this Node could turn it on (tls-tickets.ts). */
  renewsTickets = false;
  /** TLS 1.2 sessions by id, for every listener and upgrade (tls-sessions.ts). */
  readonly sessions = new TlsSessionCache();

  constructor(
    set: CertificateSet,
    private readonly loader?: () => Promise<CertificateSet>,
    /** Renew each ticket a client resumes with (TlsConfig.renewTickets, tls-tickets.ts). */
    private readonly renewTickets = false,
  ) {
    this.contexts = this.build(set);
  }

  get secureContext(): tls.SecureContext {
    return this.contexts.fallback.context;
  }

  get certPem(): string {
    return this.contexts.fallback.certPem;
  }

  get keyPem(): string {
    return this.contexts.fallback.keyPem;
  }

  get serverOptions(): tls.SecureContextOptions {
    return this.contextOptions(this.contexts.fallback);
  }

  /** The context for a client's SNI name: an exact name, then a wildcard, then the default. */
  contextFor(servername: string | undefined): tls.SecureContext {
    const { exact, wildcard, fallback } = this.contexts;
    if (!servername) return fallback.context;
    const name = normalizeHostname(servername);
    const dot = name.indexOf('.');
    return exact.get(name) ?? (dot > 0 ? wildcard.get(name.slice(dot + 1)) : undefined) ?? fallback.context;
  }

  /** For `tls.createServer` and `new tls.TLSSocket(...)`: picks the certificate at each handshake. */
  readonly SNICallback = (servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void): void => {
    cb(null, this.contextFor(servername));
  };

  upgradeOptions(): tls.TLSSocketOptions {
    return { isServer: true, secureContext: this.secureContext, SNICallback: this.SNICallback, server: this.sessions.socketServer };
  }

  createServer(options: { handshakeTimeout: number }): tls.Server {
    const server = tls.createServer({
      ...this.serverOptions,
      SNICallback: this.SNICallback,
      handshakeTimeout: options.handshakeTimeout,
    });
    this.sessions.attach(server);
    if (this.renewTickets) renewListenerTickets(server, this.ticketKeys);
    this.servers.add(server);
    server.once('close', () => this.servers.delete(server));
    return server;
  }

  /**
   * Swaps in new certificates. Every context is built before any is swapped, so a key that
   * does not match its certificate throws here and leaves the current ones in place.
   */
  replace(set: CertificateSet): LoadedCertificate[] {
    const next = this.build(set);
    this.contexts = next;
    // A client sending no SNI name gets the server's own context: renew it too.
    for (const server of this.servers) {
      server.setSecureContext(this.contextOptions(next.fallback));
      if (this.renewTickets) renewListenerTickets(server, this.ticketKeys);
    }
    return describeCertificates(set);
  }

  /** Reads the certificate files again (the configured ones, or the self-signed pair). */
  async reload(): Promise<LoadedCertificate[]> {
    if (!this.loader) throw new Error('these certificates were not loaded from files');
    return this.replace(await this.loader());
  }

  private contextOptions(pair: CertificatePair): tls.SecureContextOptions {
    return {
      ...SERVER_TLS_POLICY,
      cert: pair.certPem,
      key: pair.keyPem,
      ticketKeys: this.ticketKeys,
      sessionIdContext: this.sessionIdContext,
    };
  }

  /** A context for these certificates, renewing the tickets it accepts if so configured. */
  private createContext(pair: CertificatePair): tls.SecureContext {
    const context = tls.createSecureContext(this.contextOptions(pair));
    if (this.renewTickets) this.renewsTickets = renewTicketsOnResumption(context, this.ticketKeys);
    return context;
  }

  private build(set: CertificateSet): Contexts {
    const exact = new Map<string, tls.SecureContext>();
    const wildcard = new Map<string, tls.SecureContext>();
    for (const entry of set.byHostname) {
      const context = this.createContext(entry);
      for (const raw of entry.hostnames) {
        const name = normalizeHostname(raw);
        if (name.startsWith('*.')) wildcard.set(name.slice(2), context);
        else exact.set(name, context);
      }
    }
    const fallback = { ...set.fallback, context: this.createContext(set.fallback) };
    return { fallback, exact, wildcard };
  }
}

/** SHA-256 fingerprint and expiry of each certificate (the first of each chain). */
export function describeCertificates(set: CertificateSet): LoadedCertificate[] {
  const describe = (hostnames: string[] | 'default', certPem: string): LoadedCertificate => {
    const cert = new X509Certificate(certPem);
    return { hostnames, fingerprint: cert.fingerprint256, notAfter: cert.validTo };
  };
  return [describe('default', set.fallback.certPem), ...set.byHostname.map((e) => describe(e.hostnames, e.certPem))];
}

/** Material with one certificate for every name and no files behind it (tests, tools). */
export function tlsMaterialFromPem(certPem: string, keyPem: string, options: { renewTickets?: boolean } = {}): ReloadableTlsMaterial {
  return new ReloadableTlsMaterial({ fallback: { certPem, keyPem }, byHostname: [] }, undefined, options.renewTickets);
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file, fsConstants.R_OK);
    return true;
  } catch {
    return false;
  }
}

async function readPair(certFile: string, keyFile: string): Promise<CertificatePair> {
  const [certPem, keyPem] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  return { certPem, keyPem };
}

/**
 * The configured certificate, or a self-signed one kept in `<dataDir>/tls/` (generated on the
 * first start, reused after it, so clients that pinned it keep working across restarts).
 */
async function readDefaultPair(config: TlsConfig, dataDir: string, hostname: string, log: Logger): Promise<CertificatePair> {
  if (config.certFile && config.keyFile) return readPair(config.certFile, config.keyFile);
  const dir = path.join(dataDir, 'tls');
  const certFile = path.join(dir, 'self-signed.crt');
  const keyFile = path.join(dir, 'self-signed.key');
  if ((await exists(certFile)) && (await exists(keyFile))) return readPair(certFile, keyFile);
  const pems = await generateSelfSigned(hostname);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(keyFile, pems.keyPem, { mode: 0o600 });
  await writeFile(certFile, pems.certPem, { mode: 0o644 });
  log.info('generated self-signed certificate', { hostname, file: certFile });
  return pems;
}

/** Reads every configured certificate file (and the default or self-signed pair). */
export async function readCertificateSet(config: TlsConfig, dataDir: string, hostname: string, log: Logger): Promise<CertificateSet> {
  const fallback = await readDefaultPair(config, dataDir, hostname, log);
  const byHostname = await Promise.all(
    (config.certificates ?? []).map(async (c) => ({ hostnames: c.hostnames, ...(await readPair(c.certFile, c.keyFile)) })),
  );
  return { fallback, byHostname };
}

/** The server's certificates, read again from the same files by `reload()`. */
export async function loadTlsMaterial(config: TlsConfig, dataDir: string, hostname: string, log: Logger): Promise<ReloadableTlsMaterial> {
  const read = () => readCertificateSet(config, dataDir, hostname, log);
  const set = await read();
  const material = new ReloadableTlsMaterial(set, read, config.renewTickets === true);
  log.info('tls certificates loaded', { certificates: describeCertificates(set) });
  if (config.renewTickets === true && !material.renewsTickets) {
    log.warn('tls ticket renewal unavailable', { setting: 'tls.renewTickets', reason: 'this Node has no ticket key callback' });
  }
  return material;
}

export async function generateSelfSigned(hostname: string): Promise<CertificatePair> {
  const notAfterDate = new Date();
  notAfterDate.setFullYear(notAfterDate.getFullYear() + 10);
  // Imported here: it is needed once per data directory, and its code is several MB.
  const { generate } = await import('selfsigned');
  const pems = await generate([{ name: 'commonName', value: hostname }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: false },
      // No keyUsage/extKeyUsage: selfsigned 5 writes them empty, which forbids every use.
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: hostname },
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  return { certPem: pems.cert, keyPem: pems.private };
}
