/**
 * The big-mailbox timings: in a fresh session each round, SELECT INBOX, `UID FETCH 1:* (FLAGS)`
 * and `UID SEARCH TEXT "word"` on an INBOX of many messages, each timed from sending the
 * command to its tagged OK. One untimed round first, then the timed rounds.
 */
import { SEARCH_WORD } from '../lib/mailbox-corpus.js';
import { existsCount, openImapSession, quote, searchResult } from '../lib/imap-client.js';

export interface BigOptions {
  host: string;
  port: number;
  user: string;
  pass: string;
  messages: number;
  rounds: number;
  timeoutMs: number;
  label: string;
  log: (msg: string) => void;
}

export interface BigRound {
  selectMs: number;
  fetchFlagsMs: number;
  searchTextMs: number;
  exists: number;
  fetched: number;
  found: number;
}

export interface BigSummary {
  label: string;
  messages: number;
  rounds: BigRound[];
}

async function round(o: BigOptions): Promise<BigRound> {
  const conn = await openImapSession(o.host, o.port, o.user, o.pass, o.timeoutMs);
  try {
    let t = performance.now();
    const exists = existsCount(await conn.ok('SELECT INBOX')) ?? 0;
    const selectMs = performance.now() - t;
    if (exists < o.messages) throw new Error(`SELECT says ${exists} messages, expected ${o.messages}`);
    t = performance.now();
    // Only counted: nothing else happens in this mailbox meanwhile, so every untagged line is
    // one message's FETCH.
    const fetched = (await conn.ok('UID FETCH 1:* (FLAGS)', false)).counted;
    const fetchFlagsMs = performance.now() - t;
    if (fetched !== exists) throw new Error(`UID FETCH 1:* (FLAGS) returned ${fetched} of ${exists} messages`);
    t = performance.now();
    const found = searchResult(await conn.ok(`UID SEARCH TEXT ${quote(SEARCH_WORD)}`)).length;
    const searchTextMs = performance.now() - t;
    if (found === 0) throw new Error(`SEARCH TEXT ${SEARCH_WORD} found nothing`);
    return { selectMs, fetchFlagsMs, searchTextMs, exists, fetched, found };
  } finally {
    await conn.logout();
  }
}

export async function runBig(o: BigOptions): Promise<BigSummary> {
  const warm = await round(o);
  o.log(`${o.label}: warm-up round: SELECT ${warm.selectMs.toFixed(1)} ms, FETCH FLAGS ${warm.fetchFlagsMs.toFixed(1)} ms, SEARCH TEXT ${warm.searchTextMs.toFixed(1)} ms (not counted)`);
  const rounds: BigRound[] = [];
  for (let i = 0; i < o.rounds; i++) {
    const r = await round(o);
    o.log(`${o.label}: round ${i + 1}: SELECT ${r.selectMs.toFixed(1)} ms, FETCH FLAGS ${r.fetchFlagsMs.toFixed(1)} ms, SEARCH TEXT ${r.searchTextMs.toFixed(1)} ms (${r.found} found)`);
    rounds.push(r);
  }
  return { label: o.label, messages: o.messages, rounds };
}
