/** STORE's arguments (RFC 9051 6.4.6, UNCHANGEDSINCE of RFC 7162 3.1.3). */
import { ArgCursor } from './args.js';
import { parseFlags } from './flags.js';
import { parseSequenceSet } from './sequence-set.js';
import { ImapSyntaxError, type StoreCommand, type StoreOperation, type Token } from './types.js';

const ITEM = /^([+-]?)FLAGS(\.SILENT)?$/i;

export function parseStore(args: Token[]): StoreCommand {
  const c = new ArgCursor(args, 'STORE');
  const set = parseSequenceSet(c.atom('sequence set'));
  let unchangedSince: number | undefined;
  if (c.peek()?.kind === 'list') {
    const mods = new ArgCursor(c.list('modifiers'), 'STORE modifiers');
    while (!mods.atEnd) {
      const name = mods.atom('modifier').toUpperCase();
      if (name !== 'UNCHANGEDSINCE' || unchangedSince !== undefined) throw new ImapSyntaxError(`STORE: invalid modifier ${name.slice(0, 30)}`);
      unchangedSince = mods.number('UNCHANGEDSINCE');
    }
  }
  const item = ITEM.exec(c.atom('FLAGS item'));
  if (!item) throw new ImapSyntaxError('STORE: expected FLAGS, +FLAGS or -FLAGS');
  const op: StoreOperation = item[1] === '+' ? 'add' : item[1] === '-' ? 'remove' : 'replace';
  let flags: string[];
  if (c.peek()?.kind === 'list') {
    flags = parseFlags(c.list('flags'));
    c.end();
  } else {
    const rest: Token[] = [];
    while (!c.atEnd) rest.push(c.next('flag'));
    if (rest.length === 0) throw new ImapSyntaxError('STORE: missing flags');
    flags = parseFlags(rest);
  }
  const command: StoreCommand = { set, op, silent: item[2] !== undefined, flags };
  if (unchangedSince !== undefined) command.unchangedSince = unchangedSince;
  return command;
}
