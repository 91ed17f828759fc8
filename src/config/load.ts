/**
 * Builds the configuration from its layers, each overriding the one before:
 *   defaults  <-  config file (JSON)  <-  environment (WHARF_*)  <-  command-line flags.
 * The config file is only read from an explicit path (`--config FILE` or WHARF_CONFIG), so
 * what a server runs with never depends on a file that merely happens to exist somewhere.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { defaultConfig } from './defaults.js';
import type { WharfConfig } from './types.js';
import { checkLayer, ConfigError, validateConfig } from './validate.js';

/** The command-line flags that feed the configuration. */
export interface ConfigOptions {
  /** `--data DIR` */
  data?: string;
  /** `--config FILE` */
  config?: string;
}

export interface LoadConfigInput {
  options?: ConfigOptions;
  env?: NodeJS.ProcessEnv;
  /** Directory relative paths from the environment and flags are resolved against. */
  cwd?: string;
}

/**
 * Environment variable → configuration path. Numeric settings are parsed from the text;
 * `implies` are further settings a variable makes (a database URL means that kind of store).
 */
export const ENV_SETTINGS: ReadonlyArray<{
  name: string;
  path: string;
  numeric?: boolean;
  /** Comma-separated list. */
  list?: boolean;
  implies?: Readonly<Record<string, unknown>>;
}> = [
  { name: 'WHARF_HOST', path: 'host' },
  { name: 'WHARF_HOSTNAME', path: 'hostname' },
  { name: 'WHARF_NODE_ID', path: 'nodeId' },
  { name: 'WHARF_DATA', path: 'dataDir' },
  { name: 'WHARF_DATABASE_URL', path: 'store.url', implies: { 'store.kind': 'postgres' } },
  { name: 'WHARF_SMTP_PORT', path: 'ports.smtp', numeric: true },
  { name: 'WHARF_SUBMISSION_PORT', path: 'ports.submission', numeric: true },
  { name: 'WHARF_SUBMISSIONS_PORT', path: 'ports.submissions', numeric: true },
  { name: 'WHARF_POP3_PORT', path: 'ports.pop3', numeric: true },
  { name: 'WHARF_POP3S_PORT', path: 'ports.pop3s', numeric: true },
  { name: 'WHARF_IMAP_PORT', path: 'ports.imap', numeric: true },
  { name: 'WHARF_IMAPS_PORT', path: 'ports.imaps', numeric: true },
  { name: 'WHARF_FTP_PORT', path: 'ports.ftp', numeric: true },
  { name: 'WHARF_FTPS_PORT', path: 'ports.ftps', numeric: true },
  { name: 'WHARF_SFTP_PORT', path: 'ports.sftp', numeric: true },
  { name: 'WHARF_HTTP_PORT', path: 'ports.http', numeric: true },
  { name: 'WHARF_LOG_LEVEL', path: 'logLevel' },
  { name: 'WHARF_TLS_CERT', path: 'tls.certFile' },
  { name: 'WHARF_TLS_KEY', path: 'tls.keyFile' },
  { name: 'WHARF_DNS_SERVERS', path: 'dns.servers', list: true },
  { name: 'WHARF_DELIVERY_PORT', path: 'delivery.port', numeric: true },
];

/** Settings that hold file system paths: relative ones are resolved against their layer's base. */
const PATH_SETTINGS = ['dataDir', 'tls.certFile', 'tls.keyFile', 'delivery.caFile'];

type Layer = Record<string, unknown>;

function setPath(target: Layer, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Layer;
  }
  node[keys[keys.length - 1]] = value;
}

function getPath(source: Layer, dotted: string): unknown {
  let node: unknown = source;
  for (const key of dotted.split('.')) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Layer)[key];
  }
  return node;
}

function resolvePaths(layer: Layer, base: string): void {
  for (const setting of PATH_SETTINGS) {
    const value = getPath(layer, setting);
    if (typeof value === 'string' && value.trim() !== '') setPath(layer, setting, path.resolve(base, value));
  }
  // The SNI certificates' files (tls.certificates[].certFile/keyFile), checked to be strings already.
  const certificates = getPath(layer, 'tls.certificates');
  if (Array.isArray(certificates)) {
    for (const entry of certificates as Layer[]) {
      for (const key of ['certFile', 'keyFile']) {
        if (typeof entry[key] === 'string') entry[key] = path.resolve(base, entry[key] as string);
      }
    }
  }
}

function mergeInto(target: Layer, layer: Layer): void {
  for (const [key, value] of Object.entries(layer)) {
    const current = target[key];
    if (typeof value === 'object' && value !== null && !Array.isArray(value) && typeof current === 'object' && current) {
      mergeInto(current as Layer, value as Layer);
    } else {
      target[key] = value;
    }
  }
}

async function readConfigFile(file: string): Promise<Layer> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new ConfigError(`config file ${file}: cannot read it: ${why}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${file}: not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${file}: must hold a JSON object`);
  }
  checkLayer(parsed, (p) => `config file ${file}: ${p}`);
  // Paths in the file are relative to the file, so the file works from any working directory.
  resolvePaths(parsed as Layer, path.dirname(file));
  return parsed as Layer;
}

function environmentLayer(env: NodeJS.ProcessEnv, cwd: string): Layer {
  const layer: Layer = {};
  const origins = new Map<string, string>();
  for (const setting of ENV_SETTINGS) {
    const raw = env[setting.name];
    // An empty variable counts as unset, as shells make it easy to export one by accident.
    if (raw === undefined || raw.trim() === '') continue;
    const value = setting.list
      ? raw.split(',').map((v) => v.trim()).filter((v) => v !== '')
      : setting.numeric && /^\s*-?\d+\s*$/.test(raw)
        ? Number(raw)
        : raw;
    setPath(layer, setting.path, value);
    origins.set(setting.path, setting.name);
    for (const [impliedPath, implied] of Object.entries(setting.implies ?? {})) {
      setPath(layer, impliedPath, implied);
      origins.set(impliedPath, setting.name);
    }
  }
  checkLayer(layer, (p) => `environment ${origins.get(p) ?? p}`);
  resolvePaths(layer, cwd);
  return layer;
}

function flagLayer(options: ConfigOptions, cwd: string): Layer {
  const layer: Layer = {};
  if (options.data !== undefined) {
    if (options.data.trim() === '') throw new ConfigError('--data: must not be empty');
    layer.dataDir = path.resolve(cwd, options.data);
  }
  return layer;
}

/** Reads, merges and validates the configuration. Throws ConfigError with a one-line message. */
export async function loadConfig(input: LoadConfigInput = {}): Promise<WharfConfig> {
  const env = input.env ?? process.env;
  const options = input.options ?? {};
  const cwd = input.cwd ?? process.cwd();

  const config = defaultConfig() as unknown as Layer;
  const configFile = options.config ?? (env.WHARF_CONFIG?.trim() ? env.WHARF_CONFIG : undefined);
  if (configFile !== undefined) {
    mergeInto(config, await readConfigFile(path.resolve(cwd, configFile)));
  }
  mergeInto(config, environmentLayer(env, cwd));
  mergeInto(config, flagLayer(options, cwd));

  const result = config as unknown as WharfConfig;
  // The default './data' is relative to where the server was started.
  result.dataDir = path.resolve(cwd, result.dataDir);
  return validateConfig(result);
}
