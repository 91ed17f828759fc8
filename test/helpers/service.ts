/**
 * What the in-process service harnesses (SMTP, POP3, and the ones to come) share: a complete
 * configuration with small, fast test values, and one self-signed certificate per test process.
 */
import type { WharfConfig } from '../../src/config/types.js';
import { generateSelfSigned, tlsMaterialFromPem } from '../../src/net/tls.js';
import type { TlsMaterial } from '../../src/net/types.js';

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? Partial<T[K]> : T[K] };

/** Every field of WharfConfig (ports chosen by the OS), with `overrides` merged one level deep. */
export function testConfig(dataDir: string, overrides: DeepPartial<WharfConfig> = {}): WharfConfig {
  const base: WharfConfig = {
    host: '127.0.0.1',
    hostname: 'mail.example.org',
    nodeId: 'test-node',
    dataDir,
    store: { kind: 'sqlite' },
    ports: {
      smtp: 0,
      submission: 0,
      submissions: 0,
      pop3: 0,
      pop3s: 0,
      imap: 0,
      imaps: 0,
      ftp: 0,
      ftps: 0,
      sftp: 0,
      http: 0,
    },
    smtp: {
      maxMessageBytes: 1024 * 1024,
      maxRecipients: 5,
      maxLineBytes: 1024,
      idleTimeoutMs: 10_000,
      transactionTimeoutMs: 30_000,
      vrfy: 'disabled',
      maxErrors: 10,
      maxUnknownRecipients: 10,
      greetingDelayMs: 0,
    },
    submission: { saveSent: false },
    dns: { servers: [], timeoutMs: 2_000, cacheMs: 0 },
    delivery: {
      port: 25,
      firstRetryMs: 1_000,
      maxRetryMs: 60_000,
      giveUpMs: 3_600_000,
      delayNoticeMs: 600_000,
      maxConnectionsPerDestination: 4,
      maxConnections: 20,
      connectTimeoutMs: 5_000,
      commandTimeoutMs: 10_000,
      tlsPolicy: {},
      mtaSts: false,
    },
    mailAuth: { verifyInbound: false, signOutbound: false, dnsbl: [] },
    pop3: { idleTimeoutMs: 10_000, lockTtlMs: 60_000, maxErrors: 10 },
    imap: { idleTimeoutMs: 10_000, maxAppendBytes: 32 * 1024 * 1024, maxLineBytes: 64 * 1024, maxCommandsPerSecond: 1000, maxErrors: 10, maxConnectionsPerUserAddress: 10 },
    files: { kind: 'auto', quota: 'shared', quotaBytes: 0, keepPartial: false, anonymous: false },
    ftp: {
      idleTimeoutMs: 10_000,
      dataIdleTimeoutMs: 10_000,
      dataConnectTimeoutMs: 5_000,
      uploadCloseGraceMs: 25,
      passivePortMin: 0,
      passivePortMax: 0,
      requireTls: 'except-loopback',
      fxpUsers: [],
      maxLineBytes: 4096,
      maxErrors: 100,
    },
    sftp: { idleTimeoutMs: 10_000, loginTimeoutMs: 10_000 },
    limits: {
      maxConnectionsPerAddress: 50,
      maxConnections: 100,
      maxConnectionsTotal: 1000,
      maxConnectionRatePerAddress: 100_000,
      loginTimeoutMs: 10_000,
      commandTimeoutMs: 30_000,
    },
    auth: { allowInsecure: false },
    authThrottle: { freeFailures: 3, baseDelayMs: 10, maxDelayMs: 100, windowMs: 60_000 },
    tls: {},
    shutdownGraceMs: 2_000,
    logLevel: 'debug',
  };
  return {
    ...base,
    ...overrides,
    ports: { ...base.ports, ...overrides.ports },
    smtp: { ...base.smtp, ...overrides.smtp },
    submission: { ...base.submission, ...overrides.submission },
    dns: { ...base.dns, ...overrides.dns },
    delivery: { ...base.delivery, ...overrides.delivery },
    mailAuth: { ...base.mailAuth, ...overrides.mailAuth },
    pop3: { ...base.pop3, ...overrides.pop3 },
    imap: { ...base.imap, ...overrides.imap },
    limits: { ...base.limits, ...overrides.limits },
    auth: { ...base.auth, ...overrides.auth },
    authThrottle: { ...base.authThrottle, ...overrides.authThrottle },
    tls: { ...base.tls, ...overrides.tls },
  } as WharfConfig;
}

let tlsMaterial: Promise<TlsMaterial> | null = null;

/** One self-signed certificate per test process (key generation is the slow part). */
export function testTls(): Promise<TlsMaterial> {
  tlsMaterial ??= generateSelfSigned('localhost').then((p) => tlsMaterialFromPem(p.certPem, p.keyPem));
  return tlsMaterial;
}
