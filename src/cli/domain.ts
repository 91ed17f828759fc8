import type { Command } from 'commander';
import type { ConfigOptions } from '../config/load.js';
import { addConfigOptions, printLines, withStore } from './common.js';

/** `wharf domain add|list|remove`: the mail domains this server accepts mail for. */
export function registerDomainCommands(program: Command): void {
  const domain = program.command('domain').description('manage the mail domains this server is the destination for');

  addConfigOptions(domain.command('add').argument('<name>', 'domain name, e.g. example.org'))
    .description('add a local domain')
    .option('--postmaster <address>', 'also make postmaster@<name> an alias of this address (RFC 5321 4.5.1)')
    .action(async (name: string, options: ConfigOptions & { postmaster?: string }) => {
      const added = await withStore(options, async (store) => {
        const d = await store.addDomain(name);
        if (options.postmaster) {
          try {
            await store.addAlias(`postmaster@${d.name}`, [options.postmaster]);
          } catch (err) {
            // All or nothing: a failed alias leaves no half-set-up domain behind.
            await store.removeDomain(d.name);
            throw err;
          }
        }
        return d;
      });
      process.stdout.write(`added domain ${added.name}\n`);
      if (options.postmaster) {
        process.stdout.write(`added alias postmaster@${added.name} -> ${options.postmaster.toLowerCase()}\n`);
      } else {
        // Every mail domain must accept mail for its postmaster; say how, rather than guess whom.
        process.stderr.write(
          `note: mail to postmaster@${added.name} is refused until it reaches someone: ` +
            `wharf alias add postmaster@${added.name} <address>\n`,
        );
      }
    });

  addConfigOptions(domain.command('list'))
    .description('list the local domains, one per line')
    .action(async (options: ConfigOptions) => {
      const domains = await withStore(options, (store) => store.listDomains());
      printLines(domains.map((d) => d.name));
    });

  addConfigOptions(domain.command('remove').argument('<name>', 'domain name'))
    .description('remove a domain (it must have no users or aliases left)')
    .action(async (name: string, options: ConfigOptions) => {
      await withStore(options, (store) => store.removeDomain(name));
      process.stdout.write(`removed domain ${name.toLowerCase()}\n`);
    });
}
