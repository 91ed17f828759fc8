import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { WharfConfig } from './types.js';

const MINUTE = 60_000;

/**
 * The name this server gives itself in greetings and Received headers when none is
 * configured. A machine without a hostname still needs a syntactically valid one.
 */
export function defaultHostname(): string {
  const name = os.hostname().trim();
  return name.length > 0 ? name : 'localhost';
}

/**
 * This process's name among several Wharf nodes (in every log line and the health answers)
 * when none is configured: the host name plus a short random suffix, so two processes on one
 * machine, or a container restarted under the same host name, still tell apart in the logs.
 */
export function defaultNodeId(): string {
  const host = defaultHostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 48);
  return `${host}-${randomBytes(3).toString('hex')}`;
}

/**
 * Every setting with its default. Ports sit above 1024 so Wharf runs without privileges;
 * in production they are mapped to 25/587/465/110/995/... by configuration or a firewall.
 * A fresh object each call: callers may mutate what they get.
 */
export function defaultConfig(): WharfConfig {
  return {
    // Loopback by default: nothing is exposed until the operator chooses an address.
    host: '127.0.0.1',
    hostname: defaultHostname(),
    nodeId: defaultNodeId(),
    dataDir: './data',
    store: { kind: 'sqlite' },
    ports: {
      smtp: 2525,
      submission: 2587,
      submissions: 2465,
      pop3: 2110,
      pop3s: 2995,
      imap: 2143,
      imaps: 2993,
      ftp: 2121,
      ftps: 2990,
      sftp: 2222,
      http: 8080,
    },
    smtp: {
      maxMessageBytes: 25 * 1024 * 1024,
      maxRecipients: 100,
      maxLineBytes: 2048,
      // RFC 5321 4.5.3.2: a server should wait at least 5 minutes for the next command.
      idleTimeoutMs: 5 * MINUTE,
      transactionTimeoutMs: 30 * MINUTE,
      // RFC 5321 3.5.3: 252 reveals nothing about which mailboxes exist.
      vrfy: 'disabled',
      maxErrors: 20,
      // Postfix's smtpd_hard_error_limit is 20 for all errors; unknown recipients get fewer.
      maxUnknownRecipients: 10,
      greetingDelayMs: 0,
    },
    submission: {
      saveSent: true,
    },
    dns: {
      servers: [],
      timeoutMs: 5_000,
      cacheMs: 60_000,
    },
    delivery: {
      port: 25,
      // RFC 5321 4.5.4.1: retry after at least 30 minutes, give up after 4-5 days; a first
      // retry after a minute catches greylisting and restarts, then the wait doubles.
      firstRetryMs: MINUTE,
      maxRetryMs: 4 * 60 * MINUTE,
      giveUpMs: 5 * 24 * 60 * MINUTE,
      delayNoticeMs: 4 * 60 * MINUTE,
      // As Postfix's default_destination_concurrency_limit.
      maxConnectionsPerDestination: 20,
      maxConnections: 50,
      connectTimeoutMs: 30_000,
      commandTimeoutMs: 5 * MINUTE,
      tlsPolicy: {},
      mtaSts: true,
    },
    mailAuth: {
      verifyInbound: true,
      signOutbound: true,
      dnsbl: [],
    },
    pop3: {
      // RFC 1939 section 3: the inactivity autologout timer must be at least 10 minutes.
      idleTimeoutMs: 10 * MINUTE,
      lockTtlMs: MINUTE,
      // Mail clients send few commands and know the protocol: ten mistakes is a probe.
      maxErrors: 10,
    },
    imap: {
      idleTimeoutMs: 30 * MINUTE,
      // As large as SMTP accepts, plus room for a client's own copy of a maximal message.
      maxAppendBytes: 50 * 1024 * 1024,
      maxLineBytes: 64 * 1024,
      maxCommandsPerSecond: 1000,
      maxErrors: 30,
      // As Dovecot's mail_max_userip_connections.
      maxConnectionsPerUserAddress: 10,
    },
    files: {
      kind: 'auto',
      quota: 'shared',
      quotaBytes: 0,
      keepPartial: false,
      anonymous: false,
    },
    ftp: {
      idleTimeoutMs: 5 * MINUTE,
      dataIdleTimeoutMs: 5 * MINUTE,
      dataConnectTimeoutMs: MINUTE,
      uploadCloseGraceMs: 25,
      passivePortMin: 0,
      passivePortMax: 0,
      requireTls: 'except-loopback',
      fxpUsers: [],
      maxLineBytes: 4096,
      // Higher than POP3's: FTP clients try commands to learn what a server has (MLSD, EPSV, SIZE ...).
      maxErrors: 100,
    },
    sftp: {
      idleTimeoutMs: 15 * MINUTE,
      loginTimeoutMs: 2 * MINUTE,
    },
    limits: {
      // As Postfix's smtpd_client_connection_count_limit: room for a busy peer or a parallel
      // test suite on loopback, yet one address cannot take every slot.
      maxConnectionsPerAddress: 50,
      maxConnections: 1000,
      maxConnectionsTotal: 5000,
      maxConnectionRatePerAddress: 600,
      // A client or a person typing has logged in well within a minute.
      loginTimeoutMs: MINUTE,
      // As long as a whole SMTP transaction may take: a 50 MB APPEND needs 28 KB/s.
      commandTimeoutMs: 30 * MINUTE,
    },
    auth: {
      allowInsecure: false,
    },
    authThrottle: {
      freeFailures: 3,
      baseDelayMs: 250,
      maxDelayMs: 15_000,
      windowMs: 15 * MINUTE,
    },
    tls: { renewTickets: false },
    shutdownGraceMs: 10_000,
    logLevel: 'info',
  };
}
