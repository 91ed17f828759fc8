/**
 * The one place that knows what a valid configuration looks like. Every layer (config
 * file, environment, command-line flags) is checked against the same schema before it is
 * merged, so an error names where the bad value came from; the merged result is checked
 * once more for rules that span several fields.
 */
import type { WharfConfig } from './types.js';

/** A configuration problem; the CLI prints the message on one line and exits with code 2. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Rule =
  | { kind: 'port' }
  | { kind: 'positive' }
  | { kind: 'nonNegative' }
  | { kind: 'string'; optional?: boolean }
  | { kind: 'boolean' }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'stringList' }
  | { kind: 'record'; value: Rule }
  | { kind: 'list'; item: Rule; optional?: boolean }
  | { kind: 'object'; fields: Record<string, Rule>; optional?: boolean };

const port: Rule = { kind: 'port' };
const positive: Rule = { kind: 'positive' };
const nonNegative: Rule = { kind: 'nonNegative' };
const text: Rule = { kind: 'string' };
const optionalText: Rule = { kind: 'string', optional: true };
const obj = (fields: Record<string, Rule>): Rule => ({ kind: 'object', fields });

/** Mirrors src/config/types.ts; a field added there must be added here too. */
const SCHEMA = obj({
  host: text,
  hostname: text,
  nodeId: text,
  dataDir: text,
  store: obj({ kind: { kind: 'enum', values: ['sqlite', 'postgres'] }, url: optionalText }),
  ports: obj({
    smtp: port,
    submission: port,
    submissions: port,
    pop3: port,
    pop3s: port,
    imap: port,
    imaps: port,
    ftp: port,
    ftps: port,
    sftp: port,
    http: port,
  }),
  smtp: obj({
    maxMessageBytes: positive,
    maxRecipients: positive,
    maxLineBytes: positive,
    idleTimeoutMs: positive,
    transactionTimeoutMs: positive,
    vrfy: { kind: 'enum', values: ['disabled', 'enabled'] },
    maxErrors: positive,
    maxUnknownRecipients: positive,
    greetingDelayMs: nonNegative,
  }),
  submission: obj({ saveSent: { kind: 'boolean' } }),
  dns: obj({ servers: { kind: 'stringList' }, timeoutMs: positive, cacheMs: nonNegative }),
  delivery: obj({
    port,
    firstRetryMs: positive,
    maxRetryMs: positive,
    giveUpMs: positive,
    delayNoticeMs: positive,
    maxConnectionsPerDestination: positive,
    maxConnections: positive,
    connectTimeoutMs: positive,
    commandTimeoutMs: positive,
    tlsPolicy: { kind: 'record', value: { kind: 'enum', values: ['opportunistic', 'verify', 'none'] } },
    mtaSts: { kind: 'boolean' },
    caFile: optionalText,
    relay: {
      kind: 'object',
      optional: true,
      fields: {
        host: text,
        port,
        security: { kind: 'enum', values: ['starttls', 'implicit', 'none'] },
        username: optionalText,
        password: optionalText,
      },
    },
  }),
  mailAuth: obj({ verifyInbound: { kind: 'boolean' }, signOutbound: { kind: 'boolean' }, dnsbl: { kind: 'stringList' } }),
  pop3: obj({ idleTimeoutMs: positive, lockTtlMs: positive, maxErrors: positive }),
  imap: obj({
    idleTimeoutMs: positive,
    maxAppendBytes: positive,
    maxLineBytes: positive,
    maxCommandsPerSecond: positive,
    maxErrors: positive,
    maxConnectionsPerUserAddress: positive,
  }),
  files: obj({
    kind: { kind: 'enum', values: ['auto', 'local', 'database'] },
    quota: { kind: 'enum', values: ['shared', 'separate'] },
    quotaBytes: nonNegative,
    keepPartial: { kind: 'boolean' },
    anonymous: { kind: 'boolean' },
  }),
  ftp: obj({
    idleTimeoutMs: positive,
    dataIdleTimeoutMs: positive,
    dataConnectTimeoutMs: positive,
    uploadCloseGraceMs: nonNegative,
    passivePortMin: { kind: 'port' },
    passivePortMax: { kind: 'port' },
    passiveAddress: optionalText,
    requireTls: { kind: 'enum', values: ['except-loopback', 'always', 'never'] },
    fxpUsers: { kind: 'stringList' },
    maxLineBytes: positive,
    maxErrors: positive,
  }),
  sftp: obj({ idleTimeoutMs: positive, loginTimeoutMs: positive }),
  limits: obj({
    maxConnectionsPerAddress: positive,
    maxConnections: positive,
    maxConnectionsTotal: positive,
    maxConnectionRatePerAddress: positive,
    loginTimeoutMs: positive,
    commandTimeoutMs: positive,
  }),
  auth: obj({ allowInsecure: { kind: 'boolean' }, defaultDomain: optionalText }),
  authThrottle: obj({
    freeFailures: nonNegative,
    baseDelayMs: nonNegative,
    maxDelayMs: nonNegative,
    windowMs: positive,
  }),
  tls: obj({
    certFile: optionalText,
    keyFile: optionalText,
    renewTickets: { kind: 'boolean' },
    certificates: {
      kind: 'list',
      optional: true,
      item: obj({ hostnames: { kind: 'stringList' }, certFile: text, keyFile: text }),
    },
  }),
  shutdownGraceMs: nonNegative,
  logLevel: { kind: 'enum', values: ['debug', 'info', 'warn', 'error'] },
});

const NODE_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Says where a value came from, e.g. `config file x.json: smtp.maxRecipients` or `WHARF_SMTP_PORT`. */
export type Origin = (path: string) => string;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(JSON.stringify(value) ?? value);
}

function checkValue(rule: Rule, value: unknown, path: string, origin: Origin, complete: boolean): void {
  const fail = (expected: string): never => {
    throw new ConfigError(`${origin(path)}: must be ${expected}, got ${show(value)}`);
  };
  switch (rule.kind) {
    case 'port':
      if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 65535) {
        fail('an integer from 0 to 65535 (0 picks a free port)');
      }
      return;
    case 'positive':
      if (!Number.isSafeInteger(value) || (value as number) <= 0) fail('a positive integer');
      return;
    case 'nonNegative':
      if (!Number.isSafeInteger(value) || (value as number) < 0) fail('an integer of 0 or more');
      return;
    case 'string':
      if (rule.optional && value === undefined) return;
      if (typeof value !== 'string' || value.trim().length === 0) fail('a non-empty string');
      return;
    case 'boolean':
      if (typeof value !== 'boolean') fail('true or false');
      return;
    case 'enum':
      if (typeof value !== 'string' || !rule.values.includes(value)) fail(`one of ${rule.values.join(', ')}`);
      return;
    case 'stringList':
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.trim().length === 0)) {
        fail('a list of non-empty strings');
      }
      return;
    case 'list': {
      if (rule.optional && value === undefined) return;
      if (!Array.isArray(value)) fail('a list');
      (value as unknown[]).forEach((item, i) => checkValue(rule.item, item, `${path}[${i}]`, origin, true));
      return;
    }
    case 'record': {
      if (!isPlainObject(value)) fail('an object');
      for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
        checkValue(rule.value, v, path ? `${path}.${key}` : key, origin, complete);
      }
      return;
    }
    case 'object': {
      if (rule.optional && value === undefined) return;
      if (!isPlainObject(value)) fail('an object');
      const record = value as Record<string, unknown>;
      for (const key of Object.keys(record)) {
        const keyPath = path ? `${path}.${key}` : key;
        const fieldRule = rule.fields[key];
        if (!fieldRule) {
          const known = Object.keys(rule.fields).join(', ');
          throw new ConfigError(`${origin(keyPath)}: unknown setting "${keyPath}" (known here: ${known})`);
        }
        checkValue(fieldRule, record[key], keyPath, origin, complete);
      }
      if (complete) {
        for (const [key, fieldRule] of Object.entries(rule.fields)) {
          const optional =
            (fieldRule.kind === 'string' || fieldRule.kind === 'object' || fieldRule.kind === 'list') && fieldRule.optional === true;
          if (!(key in record) && !optional) {
            const keyPath = path ? `${path}.${key}` : key;
            throw new ConfigError(`${origin(keyPath)}: missing setting "${keyPath}"`);
          }
        }
      }
      return;
    }
  }
}

/**
 * Checks one layer (a parsed config file, the settings taken from the environment, ...):
 * every key must be known and every value present must have the right type. Keys may be
 * missing: lower layers supply them.
 */
export function checkLayer(layer: unknown, origin: Origin): void {
  checkValue(SCHEMA, layer, '', origin, false);
}

/** A database URL for messages: the password never appears. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return JSON.stringify(parsed.toString());
  } catch {
    return '(not a URL)';
  }
}

/** A host name as TLS clients send it in SNI: letters, digits, '-', dot-separated labels. */
const SNI_HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

/** Each SNI certificate names at least one host, each a host name or "*." and one (no name twice). */
function checkSniCertificates(config: WharfConfig): void {
  const seen = new Set<string>();
  (config.tls.certificates ?? []).forEach((entry, i) => {
    const where = `configuration: tls.certificates[${i}].hostnames`;
    if (entry.hostnames.length === 0) throw new ConfigError(`${where}: must list at least one host name`);
    for (const raw of entry.hostnames) {
      const name = raw.trim().toLowerCase().replace(/\.$/, '');
      const bare = name.startsWith('*.') ? name.slice(2) : name;
      if (!SNI_HOSTNAME.test(bare) || !bare.includes('.') && name.startsWith('*.')) {
        throw new ConfigError(`${where}: ${show(raw)} is not a host name or a wildcard like "*.example.org"`);
      }
      if (seen.has(name)) throw new ConfigError(`${where}: ${show(raw)} is listed for two certificates`);
      seen.add(name);
    }
  });
}

/** store.kind 'postgres' needs a postgres:// or postgresql:// URL; 'sqlite' takes none. */
function checkStore(config: WharfConfig): void {
  const { kind, url } = config.store;
  if (kind === 'sqlite') {
    if (url !== undefined) {
      throw new ConfigError('configuration: store.url is only for store.kind "postgres" (or set WHARF_DATABASE_URL)');
    }
    return;
  }
  if (url === undefined) {
    throw new ConfigError('configuration: store.kind "postgres" needs store.url (or WHARF_DATABASE_URL)');
  }
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new ConfigError(`configuration: store.url (WHARF_DATABASE_URL) must be a URL like postgres://user@host/db, got ${redactUrl(url)}`);
  }
  if (protocol !== 'postgres:' && protocol !== 'postgresql:') {
    throw new ConfigError(`configuration: store.url (WHARF_DATABASE_URL) must start with postgres:// or postgresql://, got ${redactUrl(url)}`);
  }
}

/** Checks the fully merged configuration, including the rules that span several fields. */
export function validateConfig(config: WharfConfig): WharfConfig {
  const origin: Origin = (path) => `configuration: ${path || '(root)'}`;
  checkValue(SCHEMA, config, '', origin, true);
  if (Boolean(config.tls.certFile) !== Boolean(config.tls.keyFile)) {
    throw new ConfigError(
      'configuration: tls.certFile and tls.keyFile (WHARF_TLS_CERT, WHARF_TLS_KEY) must be set together',
    );
  }
  checkSniCertificates(config);
  if (config.authThrottle.maxDelayMs < config.authThrottle.baseDelayMs) {
    throw new ConfigError('configuration: authThrottle.maxDelayMs must not be smaller than authThrottle.baseDelayMs');
  }
  checkStore(config);
  if (config.files.kind === 'database' && config.store.kind !== 'postgres') {
    throw new ConfigError('configuration: files.kind "database" needs store.kind "postgres" (files in SQLite are kept as real files: "local")');
  }
  const { passivePortMin: pmin, passivePortMax: pmax } = config.ftp;
  if ((pmin === 0) !== (pmax === 0) || pmin > pmax) {
    throw new ConfigError(`configuration: ftp.passivePortMin and ftp.passivePortMax must both be 0 or form a range (min <= max), got ${pmin}-${pmax}`);
  }
  // A node id goes into log lines and is compared by people and scripts: keep it one plain token.
  if (!NODE_ID.test(config.nodeId)) {
    throw new ConfigError(
      `configuration: nodeId (WHARF_NODE_ID) must be 1 to 64 letters, digits, '.', '_' or '-', got ${show(config.nodeId)}`,
    );
  }
  // RFC 5321 4.5.3.1.4: a command line of 512 octets (including CRLF) must always be accepted.
  if (config.smtp.maxLineBytes < 512) {
    throw new ConfigError(`configuration: smtp.maxLineBytes must be at least 512 (RFC 5321), got ${config.smtp.maxLineBytes}`);
  }
  return config;
}
