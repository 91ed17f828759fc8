/**
 * SEARCH's arguments (RFC 9051 6.4.4): optional RETURN options (ESEARCH, RFC 4731), optional
 * CHARSET, then search keys that are ANDed. MODSEQ is RFC 7162's; NEW, OLD and RECENT are kept
 * for IMAP4rev1 clients.
 */
import { ArgCursor, isHeaderFieldName, parseNumber, parseWordList, tokenText } from './args.js';
import { parseSearchDate } from './date-time.js';
import { parseFlag } from './flags.js';
import { isSequenceSet, parseSequenceSet } from './sequence-set.js';
import { ImapSyntaxError, type SearchCommand, type SearchKey, type SearchReturnOption, type Token } from './types.js';

/** Charsets a search may name; others get NO [BADCHARSET] (strings are decoded as UTF-8). */
export const SEARCH_CHARSETS: readonly string[] = ['UTF-8', 'US-ASCII'];

/** NOT NOT NOT ... and OR chains nest by recursion; this keeps the stack bounded. */
const MAX_KEY_DEPTH = 64;

const RETURN_OPTIONS: readonly SearchReturnOption[] = ['MIN', 'MAX', 'ALL', 'COUNT', 'SAVE'];

const FLAG_KEYS: Readonly<Record<string, { flag: string; present: boolean }>> = {
  ANSWERED: { flag: '\\Answered', present: true },
  DELETED: { flag: '\\Deleted', present: true },
  DRAFT: { flag: '\\Draft', present: true },
  FLAGGED: { flag: '\\Flagged', present: true },
  SEEN: { flag: '\\Seen', present: true },
  UNANSWERED: { flag: '\\Answered', present: false },
  UNDELETED: { flag: '\\Deleted', present: false },
  UNDRAFT: { flag: '\\Draft', present: false },
  UNFLAGGED: { flag: '\\Flagged', present: false },
  UNSEEN: { flag: '\\Seen', present: false },
};

const ADDRESS_KEYS = new Set(['BCC', 'CC', 'FROM', 'SUBJECT', 'TO']);

const DATE_KEYS: Readonly<Record<string, { which: 'internal' | 'sent'; cmp: 'before' | 'on' | 'since' }>> = {
  BEFORE: { which: 'internal', cmp: 'before' },
  ON: { which: 'internal', cmp: 'on' },
  SINCE: { which: 'internal', cmp: 'since' },
  SENTBEFORE: { which: 'sent', cmp: 'before' },
  SENTON: { which: 'sent', cmp: 'on' },
  SENTSINCE: { which: 'sent', cmp: 'since' },
};

/** Parses SEARCH (or UID SEARCH) arguments. */
export function parseSearch(args: Token[]): SearchCommand {
  const c = new ArgCursor(args, 'SEARCH');
  let returnOptions: SearchReturnOption[] | null = null;
  if (c.acceptAtom('RETURN')) returnOptions = parseReturnOptions(c.list('RETURN options'));
  let charset: string | undefined;
  if (c.acceptAtom('CHARSET')) charset = c.astring('charset').toUpperCase();
  const key = parseSearchProgram(c);
  return charset === undefined ? { returnOptions, key } : { charset, returnOptions, key };
}

/** ESEARCH RETURN options (RFC 4731 3.1); an empty list stays empty (it means ALL). */
export function parseReturnOptions(tokens: Token[]): SearchReturnOption[] {
  return parseWordList(tokens, RETURN_OPTIONS, 'SEARCH: invalid RETURN option');
}

/** One or more search keys up to the end of the arguments, ANDed. */
export function parseSearchProgram(c: ArgCursor): SearchKey {
  const keys: SearchKey[] = [];
  do keys.push(parseKey(c, 0));
  while (!c.atEnd);
  return keys.length === 1 ? keys[0] : { op: 'and', keys };
}

function parseKey(c: ArgCursor, depth: number): SearchKey {
  if (depth > MAX_KEY_DEPTH) throw new ImapSyntaxError('SEARCH: keys nested too deeply');
  const token = c.next('search key');
  if (token.kind === 'list') {
    const inner = new ArgCursor(token.items, 'SEARCH');
    const keys: SearchKey[] = [];
    do keys.push(parseKey(inner, depth + 1));
    while (!inner.atEnd);
    return keys.length === 1 ? keys[0] : { op: 'and', keys };
  }
  if (token.kind !== 'atom') throw new ImapSyntaxError('SEARCH: expected a search key');
  const word = token.value.toUpperCase();
  const flag = FLAG_KEYS[word];
  if (flag) return { op: 'flag', flag: flag.flag, present: flag.present };
  if (ADDRESS_KEYS.has(word)) return { op: 'header', field: word.toLowerCase(), value: c.astring(word) };
  const date = DATE_KEYS[word];
  if (date) return { op: 'date', which: date.which, cmp: date.cmp, day: parseSearchDate(c.astring(`${word} date`)) };
  switch (word) {
    case 'ALL':
      return { op: 'all' };
    case 'NEW':
      return { op: 'and', keys: [{ op: 'recent', present: true }, { op: 'flag', flag: '\\Seen', present: false }] };
    case 'OLD':
      return { op: 'recent', present: false };
    case 'RECENT':
      return { op: 'recent', present: true };
    case 'KEYWORD':
    case 'UNKEYWORD':
      return { op: 'flag', flag: keyword(c.atom('keyword')), present: word === 'KEYWORD' };
    case 'HEADER': {
      const field = c.astring('header field name');
      if (!isHeaderFieldName(field)) throw new ImapSyntaxError('SEARCH: invalid header field name');
      return { op: 'header', field: field.toLowerCase(), value: c.astring('header value') };
    }
    case 'BODY':
    case 'TEXT':
      return { op: 'text', where: word === 'BODY' ? 'body' : 'text', value: c.astring(word) };
    case 'LARGER':
    case 'SMALLER':
      return { op: 'size', cmp: word === 'LARGER' ? 'larger' : 'smaller', size: c.number(word) };
    case 'NOT':
      return { op: 'not', key: parseKey(c, depth + 1) };
    case 'OR': {
      const left = parseKey(c, depth + 1);
      return { op: 'or', left, right: parseKey(c, depth + 1) };
    }
    case 'UID':
      return { op: 'uid', set: parseSequenceSet(c.atom('UID set')) };
    case 'MODSEQ':
      return { op: 'modseq', modseq: parseModseqKey(c) };
    default:
      if (isSequenceSet(token.value)) return { op: 'seq', set: parseSequenceSet(token.value) };
      throw new ImapSyntaxError(`SEARCH: unknown key ${token.value.slice(0, 30)}`);
  }
}

/** A flag-keyword: a flag that is not a system flag. */
function keyword(text: string): string {
  if (text.startsWith('\\')) throw new ImapSyntaxError('SEARCH: invalid keyword');
  return parseFlag(text);
}

/**
 * MODSEQ [entry-name entry-type-req] mod-sequence-valzer (RFC 7162 3.1.5). The per-flag entry
 * is accepted and ignored: mod-sequences are kept per message, not per flag.
 */
function parseModseqKey(c: ArgCursor): number {
  const first = c.next('MODSEQ value');
  if (first.kind === 'atom') return parseNumber(first.value, 'SEARCH MODSEQ');
  const entry = tokenText(first, 'SEARCH: invalid MODSEQ entry');
  if (!/^\/flags\/\\?[^\s]+$/i.test(entry)) throw new ImapSyntaxError('SEARCH: invalid MODSEQ entry name');
  const type = c.atom('MODSEQ entry type').toLowerCase();
  if (type !== 'priv' && type !== 'shared' && type !== 'all') throw new ImapSyntaxError('SEARCH: invalid MODSEQ entry type');
  return c.number('MODSEQ value');
}
