import type { Command } from 'commander';
import type { ConfigOptions } from '../config/load.js';
import { addConfigOptions, printLines, withStore } from './common.js';

/** `wharf domain add|list|remove`: the mail domains this server accepts mail for. */
export function registerDomainCommands(program: Command): void {
  const domain = program.command('domain').description('manage the mail domains this server is the destination for');

  addConfigOptions(domain.command('add').argument('<name>', 'domain name, e.g. example.org'))
    .description('add a local domain')
    .action(async (name: string, options: ConfigOptions) => {
      const added = await withStore(options, (store) => store.addDomain(name));
      process.stdout.write(`added domain ${added.name}\n`);
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
