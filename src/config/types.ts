/** The validated configuration every part of Wharf reads. Built in one place: src/config/load.ts. */
export interface ListenConfig {
  smtp: number;
  submission: number;
  submissions: number;
  pop3: number;
  pop3s: number;
  imap: number;
  imaps: number;
  ftp: number;
  ftps: number;
  sftp: number;
  http: number;
}

export interface SmtpConfig {
  /** Largest message accepted, in bytes (advertised in EHLO SIZE). */
  maxMessageBytes: number;
  maxRecipients: number;
  /** Longest command line accepted, bytes including CRLF (RFC 5321 4.5.3.1.4 minimum is 512). */
  maxLineBytes: number;
  /** Idle time allowed between commands / data chunks before 421. */
  idleTimeoutMs: number;
  /** Longest one whole mail transaction (MAIL .. end of data) may take. */
  transactionTimeoutMs: number;
  /** Reply to VRFY: 'disabled' answers 252 (RFC 5321 3.5.3), 'enabled' answers 250/550. */
  vrfy: 'disabled' | 'enabled';
  /** Refuse a client after this many protocol errors in one session. */
  maxErrors: number;
}

export interface Pop3Config {
  idleTimeoutMs: number;
  /** How long the maildrop lease lasts without renewal (a crashed node frees it after this). */
  lockTtlMs: number;
}

export interface ImapConfig {
  /** Autologout: RFC 9051 5.4 asks for at least 30 minutes of inactivity; IDLE re-arms it. */
  idleTimeoutMs: number;
  /** Largest message APPEND accepts (advertised as APPENDLIMIT, RFC 7889). */
  maxAppendBytes: number;
  /** Longest command line, and largest literal in a command other than APPEND. */
  maxLineBytes: number;
  /** Commands a client may send per second before its session is slowed down. */
  maxCommandsPerSecond: number;
  /** Protocol errors (BAD) tolerated in one session before it is closed. */
  maxErrors: number;
}

export interface LimitsConfig {
  /** Concurrent connections allowed from one client address, per service. */
  maxConnectionsPerAddress: number;
  /** Concurrent connections per service. */
  maxConnections: number;
}

export interface AuthThrottleConfig {
  /** Failures from one address before delays start. */
  freeFailures: number;
  /** First delay, doubled with every further failure. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Failures are forgotten after this long without another. */
  windowMs: number;
}

export interface AuthConfig {
  /**
   * Allow passwords over connections that are neither TLS nor loopback. Off by default
   * (RFC 2595 section 2.3, RFC 8314): on loopback the seeds' telnet dialogues still work.
   */
  allowInsecure: boolean;
  /** Domain appended to a login name without '@' (POP3 "USER bob"); when unset and exactly one domain exists, that one. */
  defaultDomain?: string;
}

export interface TlsConfig {
  /** PEM files; when absent a self-signed pair is generated in the data folder on first start. */
  certFile?: string;
  keyFile?: string;
}

export interface StoreConfig {
  /**
   * 'sqlite': one database file in the data folder, for a single host. 'postgres': a
   * PostgreSQL database at `url`, which several Wharf nodes can share.
   */
  kind: 'sqlite' | 'postgres';
  /** postgres://user:password@host:port/database (or postgresql://...); only for 'postgres'. */
  url?: string;
}

export interface WharfConfig {
  host: string;
  hostname: string;
  /** This node's name among several sharing one database: in every log line and the health answers. */
  nodeId: string;
  dataDir: string;
  store: StoreConfig;
  ports: ListenConfig;
  smtp: SmtpConfig;
  pop3: Pop3Config;
  imap: ImapConfig;
  limits: LimitsConfig;
  auth: AuthConfig;
  authThrottle: AuthThrottleConfig;
  tls: TlsConfig;
  /** Seconds to let in-flight transactions finish on SIGTERM before closing connections. */
  shutdownGraceMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}
