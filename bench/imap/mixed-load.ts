/**
 * The mixed session load: N clients, each logged in with INBOX selected, looping over a weighted
 * mix of what a mail client does, for a warm-up and then a measured window; plus one IDLE
 * session woken by another session's APPEND, for the wake-up latency.
 *
 * Every command is a UID command (or needs no numbers), so concurrent EXPUNGEs never make a
 * client address the wrong message. Messages are picked from the INBOX's original UIDs, which
 * no client expunges: a client only ever expunges the messages it appended itself.
 */
import { percentile, sleep } from '../lib/common.js';
import { appendedMessage, SEARCH_WORD } from '../lib/mailbox-corpus.js';
import { prng } from '../lib/message.js';
import { appendUid, existsCount, fetchResponses, ImapConnection, openImapSession, quote, searchResult } from '../lib/imap-client.js';

export const IDLE_MAILBOX = 'BenchIdle';

/** The operation kinds and their weights (relative frequency in each client's loop). */
export const MIX = [
  { kind: 'select', weight: 5 },
  { kind: 'fetch-headers', weight: 25 },
  { kind: 'fetch-body', weight: 20 },
  { kind: 'search-unseen', weight: 8 },
  { kind: 'search-text', weight: 1 },
  { kind: 'store-seen', weight: 15 },
  { kind: 'append', weight: 8 },
  { kind: 'expunge', weight: 4 },
] as const;

export type OpKind = (typeof MIX)[number]['kind'];

export interface MixedOptions {
  host: string;
  port: number;
  user: string;
  pass: string;
  clients: number;
  durationS: number;
  warmupS: number;
  /** Messages the INBOX holds before the run. */
  messages: number;
  /** Pause between two IDLE wake-ups, ms. */
  idleIntervalMs: number;
  timeoutMs: number;
  label: string;
}

export interface OpStats {
  count: number;
  errors: number;
  p50: number;
  p99: number;
  max: number;
}

export interface MixedSummary {
  label: string;
  clients: number;
  windowSeconds: number;
  ops: number;
  opsPerSecond: number;
  errors: number;
  perKind: Record<string, OpStats>;
  idleWake: OpStats & { missed: number };
  errorSamples: Record<string, number>;
  /** Appends whose tagged OK had no APPENDUID; those were found again with SEARCH HEADER. */
  appendsWithoutUid: number;
  aborted: boolean;
}

const PAGE = 50;
const MAX_ERRORS_PER_CLIENT = 1000;
const RECONNECT_PAUSE_MS = 200;
const IDLE_WAKE_TIMEOUT_MS = 5000;

interface Appended {
  uid?: number;
  messageId: string;
}

export async function runMixed(o: MixedOptions): Promise<MixedSummary> {
  const latencies = new Map<string, number[]>();
  const errorsByKind = new Map<string, number>();
  const errorSamples = new Map<string, number>();
  for (const { kind } of MIX) {
    latencies.set(kind, []);
    errorsByKind.set(kind, 0);
  }
  let totalErrors = 0;
  let appendsWithoutUid = 0;
  // Set once every client is logged in with its UID list: the clock starts then.
  let windowStart = Infinity;
  let windowEnd = Infinity;
  const inWindow = (t: number) => t >= windowStart && t < windowEnd;

  const recordError = (kind: string, err: unknown) => {
    totalErrors++;
    if (inWindow(performance.now())) errorsByKind.set(kind, (errorsByKind.get(kind) ?? 0) + 1);
    const key = `${kind}: ${(err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').slice(0, 200)}`;
    errorSamples.set(key, (errorSamples.get(key) ?? 0) + 1);
  };

  const connect = async (): Promise<{ conn: ImapConnection; uids: number[] }> => {
    const conn = await openImapSession(o.host, o.port, o.user, o.pass, o.timeoutMs);
    await conn.ok('SELECT INBOX');
    // The original messages: all of them at the start; after a reconnect, the lowest N.
    const uids = searchResult(await conn.ok('UID SEARCH ALL')).sort((a, b) => a - b).slice(0, o.messages);
    if (uids.length < PAGE) throw new Error(`INBOX holds ${uids.length} messages; the load needs at least ${PAGE}`);
    return { conn, uids };
  };

  const client = async (id: number, ready: Promise<void>, first: { conn: ImapConnection; uids: number[] }) => {
    const rnd = prng(0xc11e + id * 104729);
    const totalWeight = MIX.reduce((a, m) => a + m.weight, 0);
    const own: Appended[] = [];
    let session: { conn: ImapConnection; uids: number[] } | null = first;
    let appendSeq = 0;
    let seenToggle = id % 2 === 0;
    let errors = 0;
    await ready;
    while (performance.now() < windowEnd && errors < MAX_ERRORS_PER_CLIENT) {
      let draw = rnd() * totalWeight;
      let kind: OpKind = MIX[0].kind;
      for (const m of MIX) {
        if ((draw -= m.weight) < 0) {
          kind = m.kind;
          break;
        }
      }
      if (kind === 'expunge' && own.length === 0) kind = 'append';
      try {
        session ??= await connect();
        const { conn, uids } = session;
        const uid = uids[Math.floor(rnd() * uids.length)]!;
        const started = performance.now();
        switch (kind) {
          case 'select':
            if (existsCount(await conn.ok('SELECT INBOX')) === undefined) throw new Error('SELECT without EXISTS');
            break;
          case 'fetch-headers': {
            const at = Math.floor(rnd() * (uids.length - PAGE + 1));
            const r = await conn.ok(`UID FETCH ${uids[at]}:${uids[at + PAGE - 1]} (FLAGS BODY.PEEK[HEADER.FIELDS (From Subject Date)])`);
            // Other clients' flag changes arrive as unsolicited FETCH (FLAGS) responses too.
            const n = fetchResponses(r).filter((f) => /BODY\[HEADER\.FIELDS/i.test(f.line)).length;
            if (n !== PAGE) throw new Error(`header page returned ${n} of ${PAGE} messages`);
            break;
          }
          case 'fetch-body': {
            const r = await conn.ok(`UID FETCH ${uid} (BODY[])`);
            const body = fetchResponses(r).find((f) => f.literals.length > 0)?.literals[0];
            if (!body || body.length < 1000) throw new Error(`BODY[] of UID ${uid} returned ${body?.length ?? 'no'} bytes`);
            break;
          }
          case 'search-unseen':
            await conn.ok('UID SEARCH UNSEEN');
            break;
          case 'search-text':
            if (searchResult(await conn.ok(`UID SEARCH TEXT ${quote(SEARCH_WORD)}`)).length === 0) throw new Error(`SEARCH TEXT ${SEARCH_WORD} found nothing`);
            break;
          case 'store-seen':
            // Alternately marks read and unread, so UNSEEN keeps finding messages.
            seenToggle = !seenToggle;
            await conn.ok(`UID STORE ${uid} ${seenToggle ? '+' : '-'}FLAGS (\\Seen)`);
            break;
          case 'append': {
            const msg = appendedMessage(id, ++appendSeq, o.user);
            const messageId = /^Message-ID: (.*)$/m.exec(msg)![1]!.trim();
            const u = appendUid(await conn.append('INBOX', msg, '\\Seen'));
            if (u === undefined) appendsWithoutUid++;
            own.push({ uid: u, messageId });
            break;
          }
          case 'expunge': {
            const mine = own.splice(0);
            const set: number[] = [];
            for (const a of mine) {
              if (a.uid !== undefined) set.push(a.uid);
              else set.push(...searchResult(await conn.ok(`UID SEARCH HEADER Message-ID ${quote(a.messageId)}`)));
            }
            if (set.length > 0) await conn.ok(`UID STORE ${set.join(',')} +FLAGS.SILENT (\\Deleted)`);
            await conn.ok('EXPUNGE');
            break;
          }
        }
        const done = performance.now();
        if (inWindow(done)) latencies.get(kind)!.push(done - started);
      } catch (err) {
        errors++;
        recordError(kind, err);
        if (session?.conn.closed) {
          session.conn.destroy();
          session = null;
        }
        await sleep(RECONNECT_PAUSE_MS);
      }
    }
    if (session) await session.conn.logout();
  };

  // One session IDLEs on its own mailbox; another APPENDs to it now and then. The wake-up
  // latency is from the APPEND's tagged OK (the message is stored) to the idler's EXISTS.
  const wakes: number[] = [];
  let missedWakes = 0;
  const idleLoop = async (ready: Promise<void>) => {
    const idler = await openImapSession(o.host, o.port, o.user, o.pass, o.timeoutMs);
    const waker = await openImapSession(o.host, o.port, o.user, o.pass, o.timeoutMs);
    let exists = existsCount(await idler.ok(`SELECT ${IDLE_MAILBOX}`)) ?? 0;
    const seenAt = new Map<number, number>();
    idler.onUntagged = (r) => {
      const m = /^\* (\d+) EXISTS/i.exec(r.line);
      if (!m) return;
      const n = Number(m[1]);
      for (let k = exists + 1; k <= n; k++) seenAt.set(k, performance.now());
      exists = Math.max(exists, n);
    };
    const idle = await idler.idle();
    let expected = exists;
    await ready;
    let n = 0;
    try {
      while (performance.now() < windowEnd) {
        await sleep(o.idleIntervalMs);
        expected++;
        await waker.append(IDLE_MAILBOX, appendedMessage(9999, ++n, o.user));
        const okAt = performance.now();
        const deadline = okAt + IDLE_WAKE_TIMEOUT_MS;
        while (!seenAt.has(expected) && performance.now() < deadline && !idler.closed) await sleep(1);
        const at = seenAt.get(expected);
        if (!inWindow(okAt)) continue;
        if (at === undefined) missedWakes++;
        else wakes.push(Math.max(0, at - okAt));
        // A later EXISTS may cover several appends when the server coalesces; count from it on.
        expected = Math.max(expected, exists);
      }
    } finally {
      await idle.done().catch(() => undefined);
      await idler.logout();
      await waker.logout();
    }
  };

  // Everyone logs in first (untimed); then the warm-up and the window start together.
  const sessions = await Promise.all(Array.from({ length: o.clients }, () => connect()));
  let release!: () => void;
  const ready = new Promise<void>((r) => (release = r));
  const all = [...sessions.map((s, i) => client(i, ready, s)), idleLoop(ready).catch((err: unknown) => recordError('idle-wake', err))];
  windowStart = performance.now() + o.warmupS * 1000;
  windowEnd = windowStart + o.durationS * 1000;
  release();
  await Promise.all(all);

  const measured = (Math.min(performance.now(), windowEnd) - windowStart) / 1000;
  const perKind: Record<string, OpStats> = {};
  let ops = 0;
  for (const { kind } of MIX) {
    const l = latencies.get(kind)!;
    ops += l.length;
    perKind[kind] = stats(l, errorsByKind.get(kind) ?? 0);
  }
  return {
    label: o.label,
    clients: o.clients,
    windowSeconds: measured,
    ops,
    opsPerSecond: measured > 0 ? ops / measured : 0,
    errors: totalErrors,
    perKind,
    idleWake: { ...stats(wakes, 0), missed: missedWakes },
    errorSamples: Object.fromEntries(errorSamples),
    appendsWithoutUid,
    aborted: false,
  };
}

function stats(latencies: number[], errors: number): OpStats {
  const s = latencies.sort((a, b) => a - b);
  return { count: s.length, errors, p50: percentile(s, 50), p99: percentile(s, 99), max: s[s.length - 1] ?? NaN };
}
