import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { loadConfig, type ConfigOptions } from '../config/load.js';
import { openStore, storeOptions } from '../store/index.js';
import type { Store } from '../store/types.js';
import { UsageError } from './errors.js';

/** `--data` and `--config`, which every command takes. */
export function addConfigOptions(command: Command): Command {
  return command
    .option('--data <dir>', 'data folder (default: $WHARF_DATA, or ./data)')
    .option('--config <file>', 'JSON configuration file (default: $WHARF_CONFIG)');
}

/** Runs `fn` with the store of the configured data folder, closing it afterwards. */
export async function withStore<T>(options: ConfigOptions, fn: (store: Store) => Promise<T>): Promise<T> {
  const config = await loadConfig({ options });
  const store = await openStore(storeOptions(config));
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** Writes list output: one item per line, nothing at all for an empty list. */
export function printLines(lines: Iterable<string>): void {
  let out = '';
  for (const line of lines) out += line + '\n';
  process.stdout.write(out);
}

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * A byte count as an administrator types it: `1000000`, `500M`, `2G` (binary units), or
 * `unlimited` (null).
 */
export function parseByteSize(text: string): number | null {
  const value = text.trim().toLowerCase();
  if (value === 'unlimited' || value === 'none') return null;
  const m = /^(\d+)\s*([kmgt]?)i?b?$/.exec(value);
  if (!m) throw new UsageError(`invalid size ${JSON.stringify(text)}: use a number of bytes, e.g. 1048576, 500M, 2G or unlimited`);
  const bytes = Number(m[1]) * UNITS[m[2]];
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`size too large: ${JSON.stringify(text)}`);
  return bytes;
}

export function formatByteSize(bytes: number | null): string {
  if (bytes === null) return 'unlimited';
  for (const [unit, size] of [['T', 1024 ** 4], ['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}

/** The PEM certificates of a client command's `--ca FILE` (extra trusted CAs); none without it. */
export async function readCaOption(file: string | undefined): Promise<string[]> {
  if (!file) return [];
  try {
    return [await readFile(file, 'utf8')];
  } catch {
    throw new UsageError(`cannot read --ca ${file}`);
  }
}
