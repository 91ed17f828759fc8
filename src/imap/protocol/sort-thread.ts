/** SORT and THREAD arguments (RFC 5256, ESORT RETURN of RFC 5267, DISPLAY of RFC 5957). */
import { ArgCursor } from './args.js';
import { parseReturnOptions, parseSearchProgram } from './search.js';
import { ImapSyntaxError, type SearchReturnOption, type SortCommand, type SortKey, type ThreadCommand, type Token } from './types.js';

const SORT_KEYS: readonly SortKey[] = ['ARRIVAL', 'CC', 'DATE', 'FROM', 'SIZE', 'SUBJECT', 'TO', 'DISPLAYFROM', 'DISPLAYTO'];

export function parseSort(args: Token[]): SortCommand {
  const c = new ArgCursor(args, 'SORT');
  let returnOptions: SearchReturnOption[] | null = null;
  if (c.acceptAtom('RETURN')) returnOptions = parseReturnOptions(c.list('RETURN options'));
  const criteria = parseCriteria(c.list('sort criteria'));
  const charset = c.astring('charset').toUpperCase();
  return { criteria, charset, returnOptions, key: parseSearchProgram(c) };
}

function parseCriteria(tokens: Token[]): SortCommand['criteria'] {
  const c = new ArgCursor(tokens, 'SORT criteria');
  const criteria: SortCommand['criteria'] = [];
  do {
    const reverse = c.acceptAtom('REVERSE');
    const word = c.atom('sort key').toUpperCase();
    const key = SORT_KEYS.find((k) => k === word);
    if (!key) throw new ImapSyntaxError(`SORT: invalid sort key ${word.slice(0, 30)}`);
    criteria.push({ key, reverse });
  } while (!c.atEnd);
  return criteria;
}

export function parseThread(args: Token[]): ThreadCommand {
  const c = new ArgCursor(args, 'THREAD');
  const algorithm = c.atom('algorithm').toUpperCase();
  if (algorithm !== 'REFERENCES' && algorithm !== 'ORDEREDSUBJECT') throw new ImapSyntaxError('THREAD: unknown algorithm');
  const charset = c.astring('charset').toUpperCase();
  return { algorithm, charset, key: parseSearchProgram(c) };
}
