#!/usr/bin/env node
/**
 * The `wharf` command. Exit codes: 0 success, 1 failure, 2 usage or configuration error.
 * Every error is one line on standard error, prefixed "wharf: ".
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerAliasCommands } from './alias.js';
import { registerDomainCommands } from './domain.js';
import { registerQueueCommands } from './queue.js';
import { describeError, EXIT_OK } from './errors.js';
import { registerFtpCommands } from './ftp.js';
import { registerSendCommand } from './send.js';
import { registerServeCommand } from './serve.js';
import { registerStoreCommands } from './store.js';
import { registerUserCommands } from './user.js';

function packageVersion(): string {
  try {
    // dist/src/cli/main.js → package.json at the repository root.
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
    return String(pkg.version);
  } catch {
    return 'unknown';
  }
}

export function buildProgram(): Command {
  const program = new Command('wharf')
    .description('One self-hosted server for the mail and file-transfer services')
    .version(packageVersion())
    // Throw instead of exiting, so every exit goes through one place with our exit codes.
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  registerServeCommand(program);
  registerDomainCommands(program);
  registerUserCommands(program);
  registerAliasCommands(program);
  registerStoreCommands(program);
  registerQueueCommands(program);
  registerSendCommand(program);
  registerFtpCommands(program);
  return program;
}

async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return EXIT_OK;
  } catch (err) {
    const { message, exitCode } = describeError(err);
    if (message) process.stderr.write(`wharf: ${message}\n`);
    return exitCode;
  }
}

// Exit explicitly: a finished admin command must not linger on an open handle, and `serve`
// only returns once the server has stopped.
process.exit(await main(process.argv));
