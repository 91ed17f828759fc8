/**
 * The entries (UID, flags, modseq, size, internal date) of recently used mailboxes, shared by
 * every IMAP session of this process.
 *
 * Why: SELECT, FETCH FLAGS, SEARCH on flags, STATUS UNSEEN and EXPUNGE all need every entry of
 * a mailbox; reading 100,000 rows and building 100,000 objects per command is what made them
 * slow on big mailboxes, and 1,000 sessions of one user each holding their own copy is what
 * made them big. Dovecot keeps the same facts in its index files; here they stay in memory
 * and are brought up to date from the store's change feed (`changesSince`) whenever the
 * mailbox's highest modseq has moved. Every read first asks the store for that modseq, so a
 * change made by another process or node is seen on the next command: the store stays the
 * truth, this is only a copy that knows how current it is.
 *
 * Snapshots are immutable: an update builds a new one, so a session streaming a long FETCH
 * from one snapshot is never disturbed by another session's update.
 */
import type { Mailbox, MailboxEntry, MailStore } from '../store/types.js';

/** Upper bound on entries held across all cached mailboxes (about 100 bytes each). */
export const DEFAULT_MAX_CACHED_ENTRIES = 500_000;

export class EntrySnapshot {
  private uidList: number[] | null = null;
  private keywordList: string[] | null = null;
  private firstUnseen: number | null | undefined = undefined;

  constructor(
    readonly mailboxId: number,
    readonly uidValidity: number,
    /** Every change up to this modseq is in `entries` (later ones may be too). */
    readonly modseq: number,
    /** Ascending UID order. */
    readonly entries: readonly MailboxEntry[],
  ) {}

  /** The UIDs, ascending. One array per snapshot, shared by every caller: do not modify it. */
  uids(): readonly number[] {
    if (!this.uidList) {
      const list = new Array<number>(this.entries.length);
      for (let i = 0; i < this.entries.length; i++) list[i] = this.entries[i]!.uid;
      this.uidList = list;
    }
    return this.uidList;
  }

  /** Keywords set on at least one entry. */
  keywords(): readonly string[] {
    if (!this.keywordList) {
      const seen = new Set<string[]>();
      const keywords = new Set<string>();
      for (const e of this.entries) {
        // Flag arrays are shared between entries with the same flags: look at each once.
        if (seen.has(e.flags)) continue;
        seen.add(e.flags);
        for (const f of e.flags) if (!f.startsWith('\\')) keywords.add(f);
      }
      this.keywordList = [...keywords];
    }
    return this.keywordList;
  }

  /** UID of the first message without \\Seen (null: none); found once per snapshot. */
  firstUnseenUid(): number | null {
    if (this.firstUnseen === undefined) {
      this.firstUnseen = null;
      const checked = new Set<string[]>();
      for (const e of this.entries) {
        // Flag arrays are shared between entries with the same flags: look at each once.
        if (checked.has(e.flags)) continue;
        if (!e.flags.includes('\\Seen')) {
          this.firstUnseen = e.uid;
          break;
        }
        checked.add(e.flags);
      }
    }
    return this.firstUnseen;
  }

  /** The entry with this UID, or undefined. */
  find(uid: number): MailboxEntry | undefined {
    const entries = this.entries;
    let lo = 0;
    let hi = entries.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const e = entries[mid]!;
      if (e.uid === uid) return e;
      if (e.uid < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }
}

/** A snapshot and the mailbox it belongs to, made consistent with each other. */
export interface CurrentMailbox {
  mailbox: Mailbox;
  snapshot: EntrySnapshot;
}

export class EntryCache {
  private readonly snapshots = new Map<number, EntrySnapshot>();
  private readonly loading = new Map<number, Promise<CurrentMailbox | null>>();
  private cachedEntries = 0;
  /** Flag arrays by their text, so 100,000 entries with the same flags share one array. */
  private readonly flagSets = new Map<string, string[]>();

  constructor(
    private readonly store: Pick<MailStore, 'getMailboxById' | 'listEntries' | 'changesSince'>,
    private readonly maxEntries = DEFAULT_MAX_CACHED_ENTRIES,
  ) {}

  /** Number of entries held (for tests and memory checks). */
  get size(): number {
    return this.cachedEntries;
  }

  /**
   * The mailbox and its entries as the store has them now; null if the mailbox is gone.
   * Concurrent calls for one mailbox share one store round.
   */
  current(mailboxId: number): Promise<CurrentMailbox | null> {
    let pending = this.loading.get(mailboxId);
    if (!pending) {
      pending = this.refresh(mailboxId).finally(() => this.loading.delete(mailboxId));
      this.loading.set(mailboxId, pending);
    }
    return pending;
  }

  /** The entries of a mailbox as the store has them now (none if the mailbox is gone). */
  async entriesOf(mailboxId: number): Promise<EntrySnapshot> {
    return (await this.current(mailboxId))?.snapshot ?? new EntrySnapshot(mailboxId, 0, 0, []);
  }

  /** Forgets a mailbox (deleted or renamed away); the next read loads it afresh. */
  forget(mailboxId: number): void {
    const old = this.snapshots.get(mailboxId);
    if (!old) return;
    this.snapshots.delete(mailboxId);
    this.cachedEntries -= old.entries.length;
  }

  private async refresh(mailboxId: number): Promise<CurrentMailbox | null> {
    const mailbox = await this.store.getMailboxById(mailboxId);
    if (!mailbox) {
      this.forget(mailboxId);
      return null;
    }
    let snapshot = this.snapshots.get(mailboxId);
    if (snapshot && snapshot.uidValidity !== mailbox.uidValidity) snapshot = undefined;
    if (!snapshot) {
      // The modseq is read before the entries: a change committed in between is in the list
      // and will be applied again on the next refresh, which is harmless; none is missed.
      const entries = (await this.store.listEntries(mailboxId)).map((e) => this.intern(e));
      snapshot = new EntrySnapshot(mailboxId, mailbox.uidValidity, mailbox.highestModseq, entries);
    } else if (snapshot.modseq < mailbox.highestModseq) {
      snapshot = await this.update(snapshot);
    }
    this.keep(snapshot);
    return { mailbox: consistent(mailbox, snapshot), snapshot };
  }

  /** Applies what changed since the snapshot's modseq; reloads when expunge records are gone. */
  private async update(old: EntrySnapshot): Promise<EntrySnapshot> {
    const changes = await this.store.changesSince(old.mailboxId, old.modseq);
    if (!changes.complete) {
      const entries = (await this.store.listEntries(old.mailboxId)).map((e) => this.intern(e));
      return new EntrySnapshot(old.mailboxId, old.uidValidity, changes.highestModseq, entries);
    }
    const changed = new Map<number, MailboxEntry>();
    for (const e of changes.changed) changed.set(e.uid, this.intern(e));
    const gone = new Set(changes.expunged);
    const next: MailboxEntry[] = [];
    for (const e of old.entries) {
      if (gone.has(e.uid)) continue;
      const replacement = changed.get(e.uid);
      if (replacement) {
        next.push(replacement);
        changed.delete(e.uid);
      } else next.push(e);
    }
    // What is left is new (UIDs only grow, so normally all above the last one).
    const added = [...changed.values()].filter((e) => !gone.has(e.uid)).sort((a, b) => a.uid - b.uid);
    const last = next.length > 0 ? next[next.length - 1]!.uid : 0;
    if (added.length > 0 && added[0]!.uid <= last) {
      next.push(...added);
      next.sort((a, b) => a.uid - b.uid);
    } else next.push(...added);
    return new EntrySnapshot(old.mailboxId, old.uidValidity, changes.highestModseq, next);
  }

  private keep(snapshot: EntrySnapshot): void {
    const old = this.snapshots.get(snapshot.mailboxId);
    if (old) {
      this.cachedEntries -= old.entries.length;
      this.snapshots.delete(snapshot.mailboxId);
    }
    // Map order is insertion order: re-inserting makes this the most recently used.
    this.snapshots.set(snapshot.mailboxId, snapshot);
    this.cachedEntries += snapshot.entries.length;
    for (const [id, s] of this.snapshots) {
      if (this.cachedEntries <= this.maxEntries || id === snapshot.mailboxId) break;
      this.snapshots.delete(id);
      this.cachedEntries -= s.entries.length;
    }
  }

  private intern(e: MailboxEntry): MailboxEntry {
    const key = e.flags.join(' ');
    let flags = this.flagSets.get(key);
    if (!flags) {
      // Keyword combinations are few in practice; a bound keeps a hostile client from growing it.
      if (this.flagSets.size > 10_000) this.flagSets.clear();
      flags = Object.freeze([...e.flags]) as string[];
      this.flagSets.set(key, flags);
    }
    e.flags = flags;
    return e;
  }
}

/**
 * The mailbox's counters as of the snapshot: the snapshot may hold changes committed after the
 * mailbox row was read, and SELECT must never announce a UIDNEXT at or below a UID it shows.
 */
function consistent(mailbox: Mailbox, snapshot: EntrySnapshot): Mailbox {
  const entries = snapshot.entries;
  const lastUid = entries.length > 0 ? entries[entries.length - 1]!.uid : 0;
  if (snapshot.modseq <= mailbox.highestModseq && lastUid < mailbox.uidNext) return mailbox;
  return {
    ...mailbox,
    highestModseq: Math.max(mailbox.highestModseq, snapshot.modseq),
    uidNext: Math.max(mailbox.uidNext, lastUid + 1),
    messageCount: entries.length,
  };
}
