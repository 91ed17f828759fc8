/**
 * FETCH's arguments (RFC 9051 6.4.5, BINARY of RFC 3516, CONDSTORE/QRESYNC modifiers of
 * RFC 7162): a sequence set, one item or macro or a list of items, and optional modifiers.
 */
import { ArgCursor, isHeaderFieldName, parseNumber } from './args.js';
import { parseSequenceSet } from './sequence-set.js';
import { type FetchCommand, type FetchItem, ImapSyntaxError, type Partial, type Section, type Token } from './types.js';

const SIMPLE_ITEMS: Readonly<Record<string, FetchItem>> = {
  FLAGS: { kind: 'FLAGS' },
  INTERNALDATE: { kind: 'INTERNALDATE' },
  'RFC822.SIZE': { kind: 'RFC822.SIZE' },
  ENVELOPE: { kind: 'ENVELOPE' },
  BODYSTRUCTURE: { kind: 'BODYSTRUCTURE' },
  BODY: { kind: 'BODY' },
  UID: { kind: 'UID' },
  MODSEQ: { kind: 'MODSEQ' },
  RFC822: { kind: 'RFC822' },
  'RFC822.HEADER': { kind: 'RFC822.HEADER' },
  'RFC822.TEXT': { kind: 'RFC822.TEXT' },
};

const MACROS: Readonly<Record<string, readonly string[]>> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};

/** name, optional [section], optional <partial>. */
const ITEM = /^([A-Za-z0-9.]+)(?:\[([^\]]*)\])?(?:<([^>]*)>)?$/;
const MAX_PART = 0xffffffff;

/**
 * Parses FETCH (or UID FETCH) arguments. Macros are expanded; UID FETCH always includes UID,
 * and CHANGEDSINCE always includes MODSEQ (RFC 7162 3.1.4.1), so the session need not add them.
 */
export function parseFetch(args: Token[], isUid: boolean): FetchCommand {
  const c = new ArgCursor(args, 'FETCH');
  const set = parseSequenceSet(c.atom('sequence set'));
  const itemsToken = c.next('fetch items');
  let items: FetchItem[];
  if (itemsToken.kind === 'atom' && MACROS[itemsToken.value.toUpperCase()]) {
    items = MACROS[itemsToken.value.toUpperCase()].map((name) => SIMPLE_ITEMS[name]);
  } else if (itemsToken.kind === 'atom') {
    items = [parseFetchItem(itemsToken.value)];
  } else if (itemsToken.kind === 'list') {
    if (itemsToken.items.length === 0) throw new ImapSyntaxError('FETCH: empty item list');
    items = itemsToken.items.map((t) => {
      if (t.kind !== 'atom') throw new ImapSyntaxError('FETCH: invalid item');
      return parseFetchItem(t.value);
    });
  } else {
    throw new ImapSyntaxError('FETCH: invalid items');
  }
  const command: FetchCommand = { set, items };
  if (!c.atEnd) parseModifiers(c.list('modifiers'), command, isUid);
  c.end();
  if (command.changedSince !== undefined && !items.some((i) => i.kind === 'MODSEQ')) items.push({ kind: 'MODSEQ' });
  if (isUid && !items.some((i) => i.kind === 'UID')) items.unshift({ kind: 'UID' });
  return command;
}

function parseModifiers(tokens: Token[], command: FetchCommand, isUid: boolean): void {
  const c = new ArgCursor(tokens, 'FETCH modifiers');
  while (!c.atEnd) {
    const name = c.atom('modifier').toUpperCase();
    if (name === 'CHANGEDSINCE' && command.changedSince === undefined) {
      command.changedSince = c.number('CHANGEDSINCE');
    } else if (name === 'VANISHED' && !command.vanished) {
      if (!isUid) throw new ImapSyntaxError('FETCH: VANISHED needs UID FETCH');
      command.vanished = true;
    } else {
      throw new ImapSyntaxError(`FETCH: invalid modifier ${name.slice(0, 30)}`);
    }
  }
  if (command.vanished && command.changedSince === undefined) throw new ImapSyntaxError('FETCH: VANISHED needs CHANGEDSINCE');
}

/** One fetch-att, e.g. "FLAGS", "BODY.PEEK[1.HEADER.FIELDS (From)]<0.100>", "BINARY.SIZE[2]". */
export function parseFetchItem(text: string): FetchItem {
  const m = ITEM.exec(text);
  if (!m) throw new ImapSyntaxError(`FETCH: invalid item ${text.slice(0, 50)}`);
  const name = m[1].toUpperCase();
  const sectionText = m[2];
  const partial = m[3] === undefined ? undefined : parsePartial(m[3]);
  if (sectionText === undefined) {
    const simple = SIMPLE_ITEMS[name];
    if (!simple || partial) throw new ImapSyntaxError(`FETCH: invalid item ${text.slice(0, 50)}`);
    return simple;
  }
  switch (name) {
    case 'BODY':
    case 'BODY.PEEK': {
      const item: FetchItem = { kind: 'BODY[]', peek: name === 'BODY.PEEK', section: parseSection(sectionText) };
      if (partial) item.partial = partial;
      return item;
    }
    case 'BINARY':
    case 'BINARY.PEEK': {
      const item: FetchItem = { kind: 'BINARY', peek: name === 'BINARY.PEEK', part: parsePart(sectionText) };
      if (partial) item.partial = partial;
      return item;
    }
    case 'BINARY.SIZE':
      if (partial) throw new ImapSyntaxError('FETCH: BINARY.SIZE takes no partial');
      return { kind: 'BINARY.SIZE', part: parsePart(sectionText) };
    default:
      throw new ImapSyntaxError(`FETCH: invalid item ${text.slice(0, 50)}`);
  }
}

/** "<offset.length>" contents; the length must not be zero. */
function parsePartial(text: string): Partial {
  const m = /^([0-9]+)\.([0-9]+)$/.exec(text);
  if (!m) throw new ImapSyntaxError('FETCH: invalid partial');
  return { offset: parseNumber(m[1], 'FETCH partial'), length: parseNumber(m[2], 'FETCH partial', true) };
}

/** section-part: "1.2.3", or "" for the whole message. */
function parsePart(text: string): number[] {
  if (text === '') return [];
  if (!/^[1-9][0-9]{0,9}(\.[1-9][0-9]{0,9})*$/.test(text)) throw new ImapSyntaxError('FETCH: invalid section part');
  const part = text.split('.').map(Number);
  if (part.some((n) => n > MAX_PART)) throw new ImapSyntaxError('FETCH: section part too large');
  return part;
}

/** section-spec (RFC 9051 section 9): [part] ["." text] with HEADER.FIELDS (names). */
export function parseSection(text: string): Section {
  const m = /^([1-9][0-9]*(?:\.[1-9][0-9]*)*)?([\s\S]*)$/.exec(text) as RegExpExecArray;
  const partText = m[1] ?? '';
  let textPart = m[2];
  if (partText !== '' && textPart !== '') {
    if (!textPart.startsWith('.') || textPart.length === 1) throw new ImapSyntaxError('FETCH: invalid section');
    textPart = textPart.slice(1);
  }
  const section: Section = { part: parsePart(partText) };
  if (textPart === '') return section;
  const t = /^(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME)( \(([^()]*)\))?$/i.exec(textPart);
  if (!t) throw new ImapSyntaxError('FETCH: invalid section');
  const kind = t[1].toUpperCase() as NonNullable<Section['text']>;
  if (kind === 'MIME' && section.part.length === 0) throw new ImapSyntaxError('FETCH: MIME needs a part number');
  section.text = kind;
  if (kind === 'HEADER.FIELDS' || kind === 'HEADER.FIELDS.NOT') {
    if (t[3] === undefined) throw new ImapSyntaxError(`FETCH: ${kind} needs a field list`);
    section.fields = parseFieldList(t[3]);
  } else if (t[2] !== undefined) {
    throw new ImapSyntaxError('FETCH: invalid section');
  }
  return section;
}

/** header-list contents: field names (atoms or quoted strings), upper-cased. */
function parseFieldList(text: string): string[] {
  const fields: string[] = [];
  const re = /\s*(?:"((?:[^"\\]|\\.)*)"|([^\s"]+))/gy;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(text)) !== null) {
    const name = m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2];
    if (!isHeaderFieldName(name)) throw new ImapSyntaxError('FETCH: invalid header field name');
    fields.push(name.toUpperCase());
    end = re.lastIndex;
  }
  if (fields.length === 0 || text.slice(end).trim() !== '') throw new ImapSyntaxError('FETCH: invalid header field list');
  return fields;
}
