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
  /**
   * End the session (421) after this many RCPT TO for unknown local users, so that guessing
   * addresses (harvesting) costs a reconnect every few tries.
   */
  maxUnknownRecipients: number;
  /**
   * On the MX port, wait this long before the greeting; a client that sends anything before it
   * (an "early talker", typical of spam software) is refused with 554. 0 checks only what
   * arrives before the greeting is written.
   */
  greetingDelayMs: number;
}

export interface SubmissionConfig {
  /** File a copy of each submitted message in the sender's Sent mailbox (\Seen). */
  saveSent: boolean;
}

export interface DnsConfig {
  /** Resolvers as "host" or "host:port" (IPv6 as "[::1]:53"); empty: the system's (/etc/resolv.conf). */
  servers: string[];
  /** Per-query timeout. */
  timeoutMs: number;
  /**
   * How long answers (and "no such record") are reused, at most; 0 asks every time. Record
   * TTLs are not read: keep this short (a changed record is seen this much later).
   */
  cacheMs: number;
}

/** Per-domain TLS rule for outbound delivery. */
export type TlsPolicy =
  /** Use STARTTLS when offered, without checking the certificate; plain text when not offered. */
  | 'opportunistic'
  /** STARTTLS required and the certificate must verify for the MX host name; else defer. */
  | 'verify'
  /** Never use TLS (a broken peer). */
  | 'none';

export interface RelayConfig {
  /** Smarthost: all outbound mail goes to it instead of the recipients' MX. */
  host: string;
  port: number;
  /** 'starttls' (587-style, required), 'implicit' (465-style) or 'none'. */
  security: 'starttls' | 'implicit' | 'none';
  username?: string;
  /** A secret: never logged. */
  password?: string;
}

export interface DeliveryConfig {
  /** Port MX delivery connects to (25 on the Internet; other values for tests on loopback). */
  port: number;
  /** First retry delay after a temporary failure; doubled per attempt up to `maxRetryMs`. */
  firstRetryMs: number;
  maxRetryMs: number;
  /** A recipient still undelivered this long after queueing bounces (RFC 5321 4.5.4.1: 4-5 days). */
  giveUpMs: number;
  /** Send the sender a delay notice once a message has waited this long. */
  delayNoticeMs: number;
  /** Concurrent outbound connections to one destination host, and in all. */
  maxConnectionsPerDestination: number;
  maxConnections: number;
  connectTimeoutMs: number;
  /** Timeout for each reply (RFC 5321 4.5.3.2 suggests minutes; we use one value). */
  commandTimeoutMs: number;
  /** Per-domain TLS rules, e.g. { "example.com": "verify" }; others are 'opportunistic'. */
  tlsPolicy: Record<string, TlsPolicy>;
  /** Honour MTA-STS (RFC 8461) policies published by recipient domains. */
  mtaSts: boolean;
  /** Extra CA certificates (PEM file) trusted when verifying peers, besides the system's. */
  caFile?: string;
  /** Smarthost for sites that must send through their provider. */
  relay?: RelayConfig;
}

export interface MailAuthConfig {
  /** Verify SPF, DKIM and DMARC on mail arriving on the MX port and add Authentication-Results. */
  verifyInbound: boolean;
  /** DKIM-sign submitted mail for domains that have a key. */
  signOutbound: boolean;
  /** DNS blocklist zones checked at connect on the MX port, e.g. ["zen.spamhaus.org"]; none by default. */
  dnsbl: string[];
}

export interface Pop3Config {
  idleTimeoutMs: number;
  /** Bad commands (-ERR for syntax or sequence) tolerated in one session before it is closed. */
  maxErrors: number;
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
  /**
   * Logged-in sessions of one user from one client address (as Dovecot's
   * mail_max_userip_connections); the next login gets NO [LIMIT]. Counted per process.
   */
  maxConnectionsPerUserAddress: number;
}

export interface FilesConfig {
  /**
   * Where users' files live. 'local': real files under <dataDir>/files/<domain>/<local>
   * (one host); 'database': inside the PostgreSQL store, for several nodes; 'auto': 'database'
   * when the store is PostgreSQL, 'local' otherwise.
   */
  kind: 'auto' | 'local' | 'database';
  /**
   * 'shared': the user's mail quota (User.quotaBytes) covers mail and files together;
   * 'separate': files have their own limit, `quotaBytes` per user.
   */
  quota: 'shared' | 'separate';
  /** Per-user file quota when `quota` is 'separate'; 0 means unlimited. */
  quotaBytes: number;
  /**
   * An upload cut short (disconnect, ABOR, over quota) keeps the bytes received under the
   * target name, so the client can resume with REST; false removes them (nothing appears).
   */
  keepPartial: boolean;
  /** Anonymous read-only FTP login ("anonymous"/"ftp") to <dataDir>/files-anonymous; off by default. */
  anonymous: boolean;
}

export interface FtpConfig {
  /** Idle time between commands before 421 (vsftpd's idle_session_timeout is 300 s). */
  idleTimeoutMs: number;
  /** A data connection with no bytes moving for this long is closed with 426. */
  dataIdleTimeoutMs: number;
  /** How long to wait for the data connection to be opened (PASV accept, PORT connect). */
  dataConnectTimeoutMs: number;
  /**
   * How long an upload whose data connection ended waits, alongside the disk sync, to see
   * whether the control connection ends too: then the client died and the file is incomplete
   * (stream mode has no other end marker), and it is not committed. A killed client's two
   * connections were seen ending 2 to 6 ms apart, in either order, on an idle machine; more
   * under load. Every upload pays it before its 226, so 0 makes many small uploads several
   * times faster, at the price of committing a killed client's partial file.
   */
  uploadCloseGraceMs: number;
  /** Passive data ports are taken from this range; 0/0 lets the system choose. */
  passivePortMin: number;
  passivePortMax: number;
  /** Address advertised in PASV replies (a server behind NAT); unset: the control connection's local address. */
  passiveAddress?: string;
  /**
   * Require AUTH TLS before USER: 'except-loopback' (default, as the mail passwords),
   * 'always', or 'never' (plain FTP allowed from anywhere).
   */
  requireTls: 'except-loopback' | 'always' | 'never';
  /**
   * Users (addresses) allowed server-to-server transfers (FXP): PORT/EPRT to, and passive
   * connections from, an address other than the control connection's. Nobody by default.
   */
  fxpUsers: string[];
  /** Longest command line. */
  maxLineBytes: number;
  /** Bad commands (500, 501, 503 ...) tolerated in one session before it is closed with 421. */
  maxErrors: number;
}

export interface SftpConfig {
  /** Idle time on an SSH connection with no request before it is closed. */
  idleTimeoutMs: number;
  /**
   * Time to authenticate after connecting (OpenSSH's LoginGraceTime is 120 s); capped by
   * limits.loginTimeoutMs, the login deadline of every service.
   */
  loginTimeoutMs: number;
}

export interface LimitsConfig {
  /** Concurrent connections allowed from one client address, over every service together. */
  maxConnectionsPerAddress: number;
  /** Concurrent connections per service. */
  maxConnections: number;
  /** Concurrent connections across every listener together. */
  maxConnectionsTotal: number;
  /** New connections one client address may open per minute (all services, all nodes). */
  maxConnectionRatePerAddress: number;
  /**
   * Time from connecting to a successful login, on every service with one (submission, POP3,
   * IMAP, FTP, SFTP); past it the connection gets the protocol's goodbye. The MX port has no
   * login and keeps RFC 5321's timeouts.
   */
  loginTimeoutMs: number;
  /**
   * Longest time one command may take to arrive in full once its line is in: an IMAP
   * literal (APPEND), an SMTP DATA or BDAT body. A client trickling a byte every few seconds
   * resets no timer and is dropped past it.
   */
  commandTimeoutMs: number;
}

export interface AuthThrottleConfig {
  /** Failures from one address before delays start. */
  freeFailures: number;
  /** First delay, doubled with every further failure. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Failures are counted in windows of this length, from the first failure of a run (store counters). */
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

/** A certificate served to clients that ask for one of its names (TLS SNI). */
export interface SniCertificateConfig {
  /** Exact names ("mail.example.org") or one-label wildcards ("*.example.net"). */
  hostnames: string[];
  certFile: string;
  keyFile: string;
}

export interface TlsConfig {
  /**
   * PEM files of the default certificate (clients that send no SNI name, or a name none of
   * `certificates` lists); when absent a self-signed pair is generated in the data folder on
   * first start. Re-read, with `certificates`, on SIGHUP.
   */
  certFile?: string;
  keyFile?: string;
  /** Certificates chosen by the name the client asks for (SNI), e.g. one per mail domain. */
  certificates?: SniCertificateConfig[];
  /**
   * Give a client that resumes a session a new ticket (src/net/tls-tickets.ts). Off by
   * default: Python's ssl then fails to close an FTPS download's data connection over TLS 1.3
   * (as against vsftpd); on, curl can make several FTPS transfers over TLS 1.3 in one run.
   */
  renewTickets?: boolean;
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
  submission: SubmissionConfig;
  dns: DnsConfig;
  delivery: DeliveryConfig;
  mailAuth: MailAuthConfig;
  pop3: Pop3Config;
  imap: ImapConfig;
  files: FilesConfig;
  ftp: FtpConfig;
  sftp: SftpConfig;
  limits: LimitsConfig;
  auth: AuthConfig;
  authThrottle: AuthThrottleConfig;
  tls: TlsConfig;
  /** Seconds to let in-flight transactions finish on SIGTERM before closing connections. */
  shutdownGraceMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}
