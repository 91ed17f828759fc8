/**
 * SORT and THREAD (RFC 5256, ESORT RETURN of RFC 5267, DISPLAY of RFC 5957): the arguments,
 * and both run over the header fields the store keeps for each message.
 */
import { ArgCursor } from './args.js';
import { sentTime } from './date-time.js';
import { displayOf, firstAddress } from './first-address.js';
import { sortByCriteria } from './sort-order.js';
import { formatThreads, threadOrderedSubject, threadReferences } from './thread.js';
import { parseReturnOptions, parseSearchProgram } from './search.js';
import {
  ImapSyntaxError,
  type SearchReturnOption,
  type SortCommand,
  type SortKey,
  type ThreadCommand,
  type ThreadNode,
  type Token,
} from './types.js';

export { formatThreads };

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

/** The raw header values SORT and THREAD read (as the store's header summary keeps them). */
export interface SortThreadHeaders {
  from?: string;
  to?: string;
  cc?: string;
  subject?: string;
  date?: string;
  messageId?: string;
  inReplyTo?: string;
  references?: string;
}

/** One searched message, in mailbox order; `id` is what the response shows (UID or number). */
export interface HeaderRow {
  id: number;
  internalDate: Date;
  size?: number;
  headers: SortThreadHeaders;
}

/** Decodes RFC 2047 encoded-words in header text; identity when the caller has none. */
export type DecodeText = (raw: string) => string;

const asIs: DecodeText = (raw) => raw;

/** The ids of `rows` in SORT order (ties in the rows' order, which is mailbox order). */
export function sortMessages(criteria: SortCommand['criteria'], rows: readonly HeaderRow[], decodeText = asIs): number[] {
  const sortable = rows.map((row, index) => {
    const h = row.headers;
    const from = firstAddress(h.from, decodeText);
    const to = firstAddress(h.to, decodeText);
    return {
      seq: index + 1,
      arrival: row.internalDate.getTime(),
      sentDate: h.date ? sentTime(h.date) : null,
      size: row.size ?? 0,
      subject: decodeText(h.subject ?? ''),
      from: from?.mailbox ?? '',
      to: to?.mailbox ?? '',
      cc: firstAddress(h.cc, decodeText)?.mailbox ?? '',
      displayFrom: displayOf(from),
      displayTo: displayOf(to),
    };
  });
  return sortByCriteria(sortable, criteria).map((m) => rows[m.seq - 1].id);
}

/** THREAD's result for `rows` (in mailbox order). */
export function threadMessages(algorithm: ThreadCommand['algorithm'], rows: readonly HeaderRow[], decodeText = asIs): ThreadNode[] {
  const messages = rows.map((row) => ({
    id: row.id,
    messageId: row.headers.messageId ?? null,
    inReplyTo: row.headers.inReplyTo ?? null,
    references: row.headers.references ?? null,
    subject: decodeText(row.headers.subject ?? ''),
    date: row.headers.date ? sentTime(row.headers.date) : null,
  }));
  return algorithm === 'REFERENCES' ? threadReferences(messages) : threadOrderedSubject(messages);
}
