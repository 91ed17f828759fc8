import { CommanderError } from 'commander';
import { ConfigError } from '../config/validate.js';
import { StoreError } from '../store/types.js';

/** Exit codes of every `wharf` command. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** An error whose message is meant for the person at the terminal, with its exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT_USAGE);
  }
}

/**
 * The one-line message and exit code for anything a command threw. Bad input (flags,
 * configuration, an invalid address) is a usage error (2); everything else (a port in use, a
 * broken store) a failure (1).
 */
export function describeError(err: unknown): { message: string | null; exitCode: number } {
  if (err instanceof CommanderError) {
    // Commander has already printed its message (or the help text).
    return { message: null, exitCode: err.exitCode === 0 ? EXIT_OK : EXIT_USAGE };
  }
  if (err instanceof CliError) return { message: err.message, exitCode: err.exitCode };
  if (err instanceof ConfigError) return { message: err.message, exitCode: EXIT_USAGE };
  if (err instanceof StoreError) {
    // The store's messages name the thing and the problem ("no domain x", "user y already exists").
    return {
      message: err.message,
      exitCode: err.code === 'invalid' ? EXIT_USAGE : EXIT_FAILURE,
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { message: message.split('\n')[0], exitCode: EXIT_FAILURE };
}
