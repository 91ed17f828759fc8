import type { Command } from 'commander';
import type { ConfigOptions } from '../config/load.js';
import { addConfigOptions, printLines, withStore } from './common.js';

/** `wharf alias add|list|remove`: addresses that forward to users (or to other aliases). */
export function registerAliasCommands(program: Command): void {
  const alias = program.command('alias').description('manage address aliases and catch-alls');

  addConfigOptions(
    alias
      .command('add')
      .argument('<source>', 'address to accept, or @domain for the domain\'s catch-all')
      .argument('<target...>', 'addresses that receive the mail'),
  )
    .description('make mail to <source> go to the targets (adds to an existing alias)')
    .action(async (source: string, targets: string[], options: ConfigOptions) => {
      const added = await withStore(options, (store) => store.addAlias(source, targets));
      process.stdout.write(`${added.source} -> ${added.targets.join(', ')}\n`);
    });

  addConfigOptions(alias.command('list').argument('[domain]', 'only this domain\'s aliases'))
    .description('list aliases, one per line: source -> targets')
    .action(async (domain: string | undefined, options: ConfigOptions) => {
      const aliases = await withStore(options, (store) => store.listAliases(domain));
      printLines(aliases.map((a) => `${a.source} -> ${a.targets.join(', ')}`));
    });

  addConfigOptions(
    alias
      .command('remove')
      .argument('<source>', 'alias address or @domain')
      .argument('[target...]', 'remove only these targets (default: the whole alias)'),
  )
    .description('remove an alias, or some of its targets')
    .action(async (source: string, targets: string[], options: ConfigOptions) => {
      await withStore(options, (store) => store.removeAlias(source, targets.length > 0 ? targets : undefined));
      const what = targets.length > 0 ? `${targets.join(', ')} from alias ${source}` : `alias ${source}`;
      process.stdout.write(`removed ${what}\n`);
    });
}
