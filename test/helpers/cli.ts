/** Runs the built `wharf` command as a child process, the way an administrator would. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProgram, type ProgramResult } from './process.js';

/** dist/test/helpers/cli.js → dist/src/cli/main.js */
export const WHARF_MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export type CliResult = ProgramResult;

/** The process environment without WHARF_* settings, so the caller's shell cannot leak in. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('WHARF_')) env[k] = v;
  }
  return { ...env, ...extra };
}

/**
 * Runs `wharf ...args`. `stdin` is written and closed; without it standard input is closed
 * at once (so a command that wants a terminal fails instead of hanging).
 */
export function runWharf(
  args: string[],
  opts: { stdin?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CliResult> {
  return runProgram(process.execPath, [WHARF_MAIN, ...args], { ...opts, env: opts.env ?? cleanEnv() });
}

export async function makeTempDir(prefix = 'wharf-test-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
