/**
 * SEARCH, UID SEARCH (RFC 9051 6.4.4) with ESEARCH results (RFC 4731), SEARCHRES (RFC 5182)
 * and MODSEQ (RFC 7162); SORT and THREAD (RFC 5256) reuse the same evaluation.
 */
import { decodeEncodedWords } from '../../mime/decode.js';
import { ImapNo } from '../errors.js';
import { evaluateSearch, formatThreads, parseSearch, parseSort, parseThread, sortMessages, threadMessages, type SearchContext } from '../grammar.js';
import { formatNumberSet } from '../protocol/sequence-set.js';
import type { SearchCommand, SearchKey, SearchReturnOption } from '../protocol/types.js';
import type { ImapSession } from '../session.js';
import type { MailboxEntry, StoredMessage } from '../../store/types.js';
import { SELECTED, argsOf, type Command, type CommandSpec } from './types.js';

const CHARSETS = new Set(['UTF-8', 'US-ASCII']);

function usesModseq(key: SearchKey): boolean {
  switch (key.op) {
    case 'modseq':
      return true;
    case 'and':
      return key.keys.some(usesModseq);
    case 'or':
      return usesModseq(key.left) || usesModseq(key.right);
    case 'not':
      return usesModseq(key.key);
    default:
      return false;
  }
}

/** Runs a search program over the selected mailbox; returns the matching entries in UID order. */
export async function runSearch(s: ImapSession, key: SearchKey, charset?: string): Promise<MailboxEntry[]> {
  if (charset && !CHARSETS.has(charset.toUpperCase())) throw new ImapNo('Unsupported charset', 'BADCHARSET (UTF-8 US-ASCII)');
  const view = s.requireView();
  const all = (await s.entries.entriesOf(view.mailbox.id)).entries;
  // The messages the client knows, with their sequence numbers: one walk over two ascending
  // lists (the view's UIDs and the current entries), no lookup per message.
  const entries: MailboxEntry[] = [];
  const seqs: number[] = [];
  const uids = view.uids;
  for (let i = 0, j = 0; i < uids.length; i++) {
    const uid = uids[i]!;
    while (j < all.length && all[j]!.uid < uid) j++;
    const e = all[j];
    if (!e || e.uid !== uid || view.isExpungedPending(uid)) continue;
    entries.push(e);
    seqs.push(i + 1);
  }
  let byUid: Map<number, MailboxEntry> | null = null;
  const entryOf = (uid: number) => (byUid ??= new Map(entries.map((e) => [e.uid, e]))).get(uid)!;
  const messages = new Map<number, Promise<StoredMessage | null>>();
  const message = (uid: number) => {
    let m = messages.get(uid);
    if (!m) {
      m = s.store.getMessage(entryOf(uid).messageId);
      messages.set(uid, m);
    }
    return m;
  };
  const ctx: SearchContext = {
    messages: entries,
    seqs,
    isRecent: (uid) => view.recent.has(uid),
    maxSeq: view.exists,
    maxUid: view.uids[view.uids.length - 1] ?? 0,
    savedUids: s.savedSearch,
    sentDate: async (uid: number) => (await message(uid))?.headers.date ?? null,
    headerValue: async (uid: number, field: string) => {
      const headers = (await message(uid))?.headers;
      const value = headers ? headerOf(headers, field) : undefined;
      if (value !== undefined) return value === null ? null : decodeEncodedWords(value);
      return readHeaderField(s, entryOf(uid).messageId, field);
    },
    textMatches: async (where: string, value: string) =>
      new Set(await s.store.searchText(view.mailbox.id, where as 'body', value)),
  };
  const matched = new Set(await evaluateSearch(key, ctx));
  return entries.filter((e) => matched.has(e.uid));
}

const SUMMARY: Record<string, keyof StoredMessage['headers']> = {
  from: 'from',
  to: 'to',
  cc: 'cc',
  bcc: 'bcc',
  subject: 'subject',
  date: 'date',
  'message-id': 'messageId',
  'in-reply-to': 'inReplyTo',
  references: 'references',
  'reply-to': 'replyTo',
};

/** A header the index keeps (null: absent), or undefined when it must be read from the body. */
function headerOf(headers: StoredMessage['headers'], field: string): string | null | undefined {
  const key = SUMMARY[field.toLowerCase()];
  if (!key) return undefined;
  return headers[key] ?? null;
}

/** Any other header field: read from the stored header block (small, and only for HEADER x). */
async function readHeaderField(s: ImapSession, messageId: number, field: string): Promise<string | null> {
  const structure = await s.store.getStructure(messageId);
  if (!structure) return null;
  const parts: Buffer[] = [];
  for await (const chunk of s.store.readBody(messageId, { start: 0, end: structure.root.bodyStart })) parts.push(chunk);
  const text = Buffer.concat(parts).toString('utf8').replace(/\r?\n[ \t]/g, ' ');
  const wanted = field.toLowerCase();
  const values: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === wanted) values.push(line.slice(colon + 1).trim());
  }
  return values.length > 0 ? decodeEncodedWords(values.join(' ')) : null;
}

function respond(s: ImapSession, c: Command, uid: boolean, request: SearchCommand, found: MailboxEntry[]) {
  const view = s.requireView();
  const ids = found.map((e) => (uid ? e.uid : view.seqOf(e.uid)));
  // Loops, not Math.max(...list): spreading 100,000+ values overflows the call stack.
  let modseq = 0;
  if (usesModseq(request.key)) for (const e of found) if (e.modseq > modseq) modseq = e.modseq;
  const options: SearchReturnOption[] | null = request.returnOptions ?? (s.rev2 ? ['ALL'] : null);
  if (options === null) {
    s.out.untagged(`SEARCH${ids.length > 0 ? ` ${ids.join(' ')}` : ''}${modseq ? ` (MODSEQ ${modseq})` : ''}`);
    return;
  }
  const wanted = options.length === 0 ? (['ALL'] as SearchReturnOption[]) : options;
  if (wanted.includes('SAVE')) s.savedSearch = found.map((e) => e.uid);
  if (wanted.length === 1 && wanted[0] === 'SAVE') return;
  const parts = [`(TAG "${c.tag}")`];
  if (uid) parts.push('UID');
  if (ids.length > 0) {
    let min = ids[0]!;
    let max = ids[0]!;
    for (const id of ids) {
      if (id < min) min = id;
      if (id > max) max = id;
    }
    if (wanted.includes('MIN')) parts.push(`MIN ${min}`);
    if (wanted.includes('MAX')) parts.push(`MAX ${max}`);
    if (wanted.includes('ALL')) parts.push(`ALL ${formatNumberSet([...ids].sort((a, b) => a - b))}`);
  }
  if (wanted.includes('COUNT')) parts.push(`COUNT ${ids.length}`);
  if (modseq) parts.push(`MODSEQ ${modseq}`);
  s.out.untagged(`ESEARCH ${parts.join(' ')}`);
}

async function search(s: ImapSession, c: Command, uid: boolean) {
  const request = parseSearch(argsOf(c));
  if (usesModseq(request.key)) s.condstoreActive = true;
  const found = await runSearch(s, request.key, request.charset);
  respond(s, c, uid, request, found);
}

async function sort(s: ImapSession, c: Command, uid: boolean) {
  const request = parseSort(argsOf(c));
  const found = await runSearch(s, request.key, request.charset);
  const view = s.requireView();
  const rows = await Promise.all(
    found.map(async (e) => ({ entry: e, headers: (await s.store.getMessage(e.messageId))?.headers ?? {} })),
  );
  const sorted = sortMessages(
    request.criteria,
    rows.map((r) => ({ id: uid ? r.entry.uid : view.seqOf(r.entry.uid), internalDate: r.entry.internalDate, size: r.entry.size, headers: r.headers })),
  );
  s.out.untagged(`SORT${sorted.length > 0 ? ` ${sorted.join(' ')}` : ''}`);
}

async function thread(s: ImapSession, c: Command, uid: boolean) {
  const request = parseThread(argsOf(c));
  const found = await runSearch(s, request.key, request.charset);
  const view = s.requireView();
  const rows = await Promise.all(
    found.map(async (e) => ({ entry: e, headers: (await s.store.getMessage(e.messageId))?.headers ?? {} })),
  );
  const threads = threadMessages(
    request.algorithm,
    rows.map((r) => ({ id: uid ? r.entry.uid : view.seqOf(r.entry.uid), internalDate: r.entry.internalDate, headers: r.headers })),
  );
  s.out.untagged(`THREAD ${formatThreads(threads)}`.trimEnd());
}

export const searchCommand: CommandSpec = { states: SELECTED, expungeSafe: false, run: (s, c) => search(s, c, false) };
export const uidSearch: CommandSpec = { states: SELECTED, expungeSafe: false, run: (s, c) => search(s, c, true) };
export const sortCommand: CommandSpec = { states: SELECTED, expungeSafe: false, run: (s, c) => sort(s, c, false) };
export const uidSort: CommandSpec = { states: SELECTED, expungeSafe: false, run: (s, c) => sort(s, c, true) };
export const threadCommand: CommandSpec = { states: SELECTED, expungeSafe: false, run: (s, c) => thread(s, c, false) };
export const uidThread: CommandSpec = { states: SELECTED, expungeSafe: false, run: (s, c) => thread(s, c, true) };
