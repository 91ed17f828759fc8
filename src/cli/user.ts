import type { Command } from 'commander';
import { hashPassword } from '../auth/password.js';
import { loadConfig, type ConfigOptions } from '../config/load.js';
import { openFileStore } from '../store/files/index.js';
import { openStore, storeOptions } from '../store/index.js';
import { normalizeDomain, parseAddress } from '../store/normalize.js';
import { addConfigOptions, formatByteSize, parseByteSize, printLines, withStore } from './common.js';
import { CliError } from './errors.js';
import { readNewPassword } from './password-input.js';
import { registerUserKeyCommands } from './user-key.js';

interface PasswordOptions extends ConfigOptions {
  passwordStdin?: boolean;
}

interface AddOptions extends PasswordOptions {
  quota?: string;
}

interface ListOptions extends ConfigOptions {
  long?: boolean;
}

const PASSWORD_STDIN_HELP = 'read the password from the first line of standard input instead of prompting';

/** `wharf user add|passwd|quota|list|remove`: mail accounts; the address is the login name. */
export function registerUserCommands(program: Command): void {
  const user = program.command('user').description('manage mail users (the address is also the login name)');

  addConfigOptions(user.command('add').argument('<address>', 'the new user\'s address, e.g. bob@example.org'))
    .option('--quota <bytes>', 'storage limit: bytes, or with a unit (500M, 2G), or unlimited', 'unlimited')
    .option('--password-stdin', PASSWORD_STDIN_HELP)
    .description('add a user (the password is asked for, or read with --password-stdin)')
    .action(async (address: string, options: AddOptions) => {
      // Check everything that can be wrong before asking for a password.
      const parsed = parseAddress(address);
      const quotaBytes = parseByteSize(options.quota ?? 'unlimited');
      const added = await withStore(options, async (store) => {
        if (!(await store.isLocalDomain(parsed.domain))) {
          throw new CliError(`domain ${parsed.domain} does not exist; add it first with: wharf domain add ${parsed.domain}`);
        }
        if (await store.getUser(parsed.address)) throw new CliError(`user ${parsed.address} already exists`);
        const password = await readNewPassword({ fromStdin: Boolean(options.passwordStdin) });
        return store.addUser({ address: parsed.address, passwordHash: await hashPassword(password), quotaBytes });
      });
      process.stdout.write(`added user ${added.address}\n`);
    });

  addConfigOptions(user.command('passwd').argument('<address>', 'the user\'s address'))
    .option('--password-stdin', PASSWORD_STDIN_HELP)
    .description('set a user\'s password')
    .action(async (address: string, options: PasswordOptions) => {
      const parsed = parseAddress(address);
      await withStore(options, async (store) => {
        if (!(await store.getUser(parsed.address))) throw new CliError(`no such user: ${parsed.address}`);
        const password = await readNewPassword({ fromStdin: Boolean(options.passwordStdin) });
        await store.setPasswordHash(parsed.address, await hashPassword(password));
      });
      process.stdout.write(`changed password of ${parsed.address}\n`);
    });

  addConfigOptions(
    user
      .command('quota')
      .argument('<address>', 'the user\'s address')
      .argument('<bytes>', 'bytes, or with a unit (500M, 2G), or unlimited'),
  )
    .description('set a user\'s storage limit')
    .action(async (address: string, bytes: string, options: ConfigOptions) => {
      const parsed = parseAddress(address);
      const quotaBytes = parseByteSize(bytes);
      await withStore(options, (store) => store.setQuota(parsed.address, quotaBytes));
      process.stdout.write(`quota of ${parsed.address} is ${formatByteSize(quotaBytes)}\n`);
    });

  addConfigOptions(user.command('list').argument('[domain]', 'only this domain\'s users'))
    .option('-l, --long', 'also show quota and storage used')
    .description('list users, one address per line')
    .action(async (domain: string | undefined, options: ListOptions) => {
      const filter = domain === undefined ? undefined : normalizeDomain(domain);
      const users = await withStore(options, (store) => store.listUsers(filter));
      printLines(
        users.map((u) =>
          options.long ? `${u.address} quota=${formatByteSize(u.quotaBytes)} used=${u.usedBytes}` : u.address,
        ),
      );
    });

  addConfigOptions(user.command('remove').argument('<address>', 'the user\'s address'))
    .description('remove a user with all of its mail and files')
    .action(async (address: string, options: ConfigOptions) => {
      const parsed = parseAddress(address);
      const config = await loadConfig({ options });
      const store = await openStore(storeOptions(config));
      try {
        const found = await store.getUser(parsed.address);
        await store.removeUser(parsed.address);
        // The user first: should removing the files fail, nobody can log in to a half-removed account.
        if (found) {
          const files = await openFileStore(config, store);
          try {
            await files.removeSpace({ kind: 'user', userId: found.id, address: found.address });
          } finally {
            await files.close();
          }
        }
      } finally {
        await store.close();
      }
      process.stdout.write(`removed user ${parsed.address}\n`);
    });

  registerUserKeyCommands(user);
}
