/**
 * Evaluates a parsed search program over the messages of a mailbox view. Pure: message data
 * and the store's answers come in through SearchContext. Cheap tests (flags, sizes, numbers)
 * run first within an AND, so per-message lookups (headers, sent dates) are only made for
 * messages still in the running; each full-text key is asked of the index once per search.
 */
import { calendarDay, sentDay } from './date-time.js';
import { sequenceSetMatcher } from './sequence-set.js';
import type { SearchKey } from './types.js';

export interface SearchMessage {
  uid: number;
  flags: readonly string[];
  modseq: number;
  size: number;
  internalDate: Date;
  /** The sequence number, unless SearchContext.seqs gives them all. */
  seq?: number;
  /** Whether \Recent, unless SearchContext.isRecent answers it. */
  recent?: boolean;
}

/** Where a text search looks: the body, the whole message, or one header field (lower-cased). */
export type TextWhere = 'body' | 'text' | string;

export interface SearchContext {
  /** The messages to search, in sequence-number order (so UIDs ascend too). */
  messages: readonly SearchMessage[];
  /**
   * Sequence numbers parallel to `messages`: lets a caller pass its stored entries as they
   * are, instead of one new object per message per search.
   */
  seqs?: readonly number[];
  /** \Recent by UID, for the same reason. */
  isRecent?: (uid: number) => boolean;
  /** The largest message number in the view ('*'); default: the last message's. */
  maxSeq?: number;
  /** The largest UID in the mailbox ('*' in UID sets); default: the last message's. */
  maxUid?: number;
  /** The UIDs saved by SEARCH RETURN (SAVE) (RFC 5182), for `$`. */
  savedUids?: readonly number[];
  /**
   * The zone, in minutes east of UTC, whose calendar days BEFORE/ON/SINCE compare internal
   * dates in. Default: the server's local zone at each date.
   */
  timezoneOffsetMinutes?: number;
  /** The Date header's value as sent, or null without one; its own calendar day is compared. */
  sentDate(uid: number): Promise<string | null>;
  /** The decoded value of a header field (all occurrences joined), or null if absent. */
  headerValue(uid: number, field: string): Promise<string | null>;
  /**
   * UIDs of the mailbox's messages whose body, text, or header field contains `value`,
   * from the full-text index. May answer null for a header field it does not index; those
   * are then matched message by message with headerValue.
   */
  textMatches(where: TextWhere, value: string): Promise<ReadonlySet<number> | null>;
}

type Mask = boolean[];

/** The UIDs of the messages matching `key`, ascending. */
export async function evaluateSearch(key: SearchKey, ctx: SearchContext): Promise<number[]> {
  const evaluator = new Evaluator(ctx);
  const mask = await evaluator.evaluate(key, ctx.messages.map(() => true));
  return ctx.messages.filter((_, i) => mask[i]).map((m) => m.uid);
}

/** Lower numbers are cheaper; used to order the keys of an AND. */
function cost(key: SearchKey): number {
  switch (key.op) {
    case 'header':
      return 2;
    case 'text':
      return 1;
    case 'date':
      return key.which === 'sent' ? 2 : 0;
    case 'and':
      return Math.max(0, ...key.keys.map(cost));
    case 'or':
      return Math.max(cost(key.left), cost(key.right));
    case 'not':
      return cost(key.key);
    default:
      return 0;
  }
}

function includesIgnoringCase(haystack: string, needle: string): boolean {
  return haystack.toLowerCase().includes(needle.toLowerCase());
}

class Evaluator {
  private readonly textCache = new Map<string, Promise<ReadonlySet<number> | null>>();

  constructor(private readonly ctx: SearchContext) {}

  /** Which of the messages in `within` match; messages outside `within` are false. */
  async evaluate(key: SearchKey, within: Mask): Promise<Mask> {
    const messages = this.ctx.messages;
    switch (key.op) {
      case 'all':
        return within.slice();
      case 'and': {
        let mask = within;
        for (const k of [...key.keys].sort((a, b) => cost(a) - cost(b))) mask = await this.evaluate(k, mask);
        return mask === within ? within.slice() : mask;
      }
      case 'or': {
        const left = await this.evaluate(key.left, within);
        const right = await this.evaluate(
          key.right,
          within.map((w, i) => w && !left[i]),
        );
        return left.map((l, i) => l || right[i]);
      }
      case 'not': {
        const inner = await this.evaluate(key.key, within);
        return within.map((w, i) => w && !inner[i]);
      }
      case 'seq': {
        // `$` is a set of UIDs whichever way it is used.
        if (key.set.kind === 'saved') return this.savedTest(within);
        const inSet = sequenceSetMatcher(key.set, this.ctx.maxSeq ?? (messages.length > 0 ? this.seqAt(messages.length - 1) : 0));
        return this.test(within, (_, i) => inSet(this.seqAt(i)));
      }
      case 'uid': {
        if (key.set.kind === 'saved') return this.savedTest(within);
        const inSet = sequenceSetMatcher(key.set, this.ctx.maxUid ?? messages[messages.length - 1]?.uid ?? 0);
        return this.test(within, (m) => inSet(m.uid));
      }
      case 'flag': {
        const flag = key.flag.toLowerCase();
        // Messages with the same flags usually share one array: decide each array once.
        const decided = new Map<readonly string[], boolean>();
        return this.test(within, (m) => {
          let hit = decided.get(m.flags);
          if (hit === undefined) {
            hit = m.flags.some((f) => f.toLowerCase() === flag) === key.present;
            decided.set(m.flags, hit);
          }
          return hit;
        });
      }
      case 'recent':
        return this.test(within, (m) => (this.ctx.isRecent ? this.ctx.isRecent(m.uid) : m.recent === true) === key.present);
      case 'size':
        return this.test(within, (m) => (key.cmp === 'larger' ? m.size > key.size : m.size < key.size));
      case 'modseq':
        return this.test(within, (m) => m.modseq >= key.modseq);
      case 'date':
        if (key.which === 'internal') return this.test(within, (m) => compareDay(this.internalDay(m), key.cmp, key.day));
        return this.testAsync(within, async (m) => {
          const header = await this.ctx.sentDate(m.uid);
          const day = header === null ? null : sentDay(header);
          return day !== null && compareDay(day, key.cmp, key.day);
        });
      case 'text': {
        const uids = (await this.textMatches(key.where, key.value)) ?? new Set<number>();
        return this.test(within, (m) => uids.has(m.uid));
      }
      case 'header': {
        const uids = await this.textMatches(key.field, key.value);
        if (uids) return this.test(within, (m) => uids.has(m.uid));
        return this.testAsync(within, async (m) => {
          const value = await this.ctx.headerValue(m.uid, key.field);
          return value !== null && includesIgnoringCase(value, key.value);
        });
      }
    }
  }

  private test(within: Mask, predicate: (m: SearchMessage, index: number) => boolean): Mask {
    return this.ctx.messages.map((m, i) => within[i]! && predicate(m, i));
  }

  private seqAt(index: number): number {
    return this.ctx.seqs ? this.ctx.seqs[index]! : (this.ctx.messages[index]!.seq ?? index + 1);
  }

  private async testAsync(within: Mask, predicate: (m: SearchMessage) => Promise<boolean>): Promise<Mask> {
    const out: Mask = new Array<boolean>(within.length).fill(false);
    for (let i = 0; i < within.length; i++) {
      if (within[i]) out[i] = await predicate(this.ctx.messages[i]);
    }
    return out;
  }

  private textMatches(where: TextWhere, value: string): Promise<ReadonlySet<number> | null> {
    const cacheKey = `${where}\0${value}`;
    let pending = this.textCache.get(cacheKey);
    if (!pending) {
      pending = this.ctx.textMatches(where, value);
      this.textCache.set(cacheKey, pending);
    }
    return pending;
  }

  private internalDay(m: SearchMessage): string {
    const offset = this.ctx.timezoneOffsetMinutes ?? -m.internalDate.getTimezoneOffset();
    return calendarDay(m.internalDate, offset);
  }

  private savedTest(within: Mask): Mask {
    const saved = new Set(this.ctx.savedUids ?? []);
    return this.test(within, (m) => saved.has(m.uid));
  }
}

function compareDay(day: string, cmp: 'before' | 'on' | 'since', key: string): boolean {
  if (cmp === 'before') return day < key;
  if (cmp === 'on') return day === key;
  return day >= key;
}
