/**
 * The selected mailbox as one session sees it (RFC 9051 5.1.2 / 7.5): the message sequence
 * numbers are positions in `uids`, which change only when this session announces an EXPUNGE
 * or EXISTS. Changes made by others (another session, SMTP delivery, POP3, another node) come
 * in through the store's change feed and wait here until the session may announce them, so a
 * client never sees an EXPUNGE in the middle of a FETCH, STORE or SEARCH.
 */
import { StoreError, type Mailbox, type MailboxEntry, type MailboxWatch, type Store } from '../store/types.js';
import type { EntryCache, EntrySnapshot } from './entry-cache.js';
import type { ResponseWriter } from './response-writer.js';
import { formatFlags } from './flags.js';
import { formatNumberSet } from './protocol/sequence-set.js';

export interface ViewOptions {
  readOnly: boolean;
  /** QRESYNC enabled: expunges are announced as VANISHED (RFC 7162 3.2.10). */
  qresync: () => boolean;
  /** CONDSTORE enabled: flag updates carry MODSEQ. */
  condstore: () => boolean;
  /** Called when a change is waiting (the session wakes an IDLE). */
  onChange: () => void;
}

export class MailboxView {
  /**
   * UIDs of the messages the client knows, in sequence order. Until this session's view
   * diverges (an EXISTS or EXPUNGE it announces), it is the cache snapshot's own array,
   * shared with every session that selected the same mailbox state: 1,000 sessions idling in
   * one INBOX hold one list, not 1,000.
   */
  private uidList: readonly number[];
  private ownsUids = false;
  /** Messages that are \Recent for this session (RFC 3501 semantics). */
  readonly recent = new Set<number>();
  /** Highest modseq whose changes this view has taken in. */
  modseq: number;
  /** Keywords seen in the mailbox, for FLAGS / PERMANENTFLAGS. */
  readonly keywords = new Set<string>();
  /** Sequence number of the first message without \Seen when selected (0: none), for rev1 [UNSEEN]. */
  firstUnseen = 0;

  private readonly pendingExpunged = new Set<number>();
  private readonly pendingFlags = new Map<number, MailboxEntry>();
  private pendingNew: number[] = [];
  /** Messages in pendingNew that this session claimed as \Recent. */
  private readonly pendingRecent = new Set<number>();
  /** Modseqs of changes this session made and already reported, so they are not echoed. */
  private readonly ownChanges = new Map<number, number>();
  private dirty = false;
  private readonly watch: MailboxWatch;
  private refreshing: Promise<void> | null = null;

  private constructor(
    private readonly store: Store,
    public mailbox: Mailbox,
    snapshot: EntrySnapshot,
    readonly options: ViewOptions,
  ) {
    this.uidList = snapshot.uids();
    this.modseq = snapshot.modseq;
    for (const k of snapshot.keywords()) this.keywords.add(k);
    const firstUnseenUid = snapshot.firstUnseenUid();
    if (firstUnseenUid !== null) this.firstUnseen = this.seqOf(firstUnseenUid);
    this.watch = store.watchMailbox(mailbox.id, () => {
      this.dirty = true;
      options.onChange();
    });
  }

  /**
   * Opens the view from the process's entry cache, whose snapshot is shared, so SELECT on a
   * 100,000-message mailbox that another session already has open reads nothing but the
   * mailbox's modseq. Resolves null if the mailbox is gone.
   */
  static async open(store: Store, cache: EntryCache, mailboxId: number, options: ViewOptions): Promise<MailboxView | null> {
    const current = await cache.current(mailboxId);
    if (!current) return null;
    const view = new MailboxView(store, current.mailbox, current.snapshot, options);
    // \Recent: claimed in the store, so a session on another node cannot claim it too; EXAMINE
    // leaves it alone (RFC 3501 6.3.2).
    const last = view.uids[view.uids.length - 1];
    if (!options.readOnly && last !== undefined) {
      let claimedBefore: number;
      try {
        claimedBefore = await store.claimRecent(mailboxId, last);
      } catch (err) {
        view.close();
        if (err instanceof StoreError && err.code === 'not-found') return null;
        throw err;
      }
      // UIDs ascend: the new ones are at the end, and usually there are none.
      const uids = view.uids;
      for (let i = uids.length - 1; i >= 0 && uids[i]! > claimedBefore; i--) view.recent.add(uids[i]!);
    }
    return view;
  }

  get readOnly(): boolean {
    return this.options.readOnly;
  }

  /** UIDs of the messages the client knows, in sequence order (do not modify). */
  get uids(): readonly number[] {
    return this.uidList;
  }

  get exists(): number {
    return this.uidList.length;
  }

  /** The UID list this view may change, copied from the shared one on first use. */
  private mutableUids(): number[] {
    if (!this.ownsUids) {
      this.uidList = this.uidList.slice();
      this.ownsUids = true;
    }
    return this.uidList as number[];
  }

  close(): void {
    this.watch.close();
  }

  /** Sequence number of a UID the client knows, or 0. */
  seqOf(uid: number): number {
    let lo = 0;
    let hi = this.uids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.uids[mid]!;
      if (v === uid) return mid + 1;
      if (v < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return 0;
  }

  /** True if the message was expunged by someone else and the client has not been told yet. */
  isExpungedPending(uid: number): boolean {
    return this.pendingExpunged.has(uid);
  }

  noteKeywords(flags: string[]): void {
    for (const f of flags) if (!f.startsWith('\\')) this.keywords.add(f);
  }

  /** Remembers a change this session made and reported itself. */
  noteOwnChange(entry: MailboxEntry): void {
    this.ownChanges.set(entry.uid, entry.modseq);
    this.noteKeywords(entry.flags);
  }

  /** This session expunged these UIDs and is announcing them now: drop them from the view. */
  removeOwn(uid: number): number {
    const seq = this.seqOf(uid);
    if (seq > 0) this.mutableUids().splice(seq - 1, 1);
    this.recent.delete(uid);
    this.pendingFlags.delete(uid);
    this.pendingExpunged.delete(uid);
    return seq;
  }

  /** Pulls what changed since the last look from the store (only when notified, or forced). */
  async refresh(force = false): Promise<void> {
    if (!this.dirty && !force) return;
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    this.dirty = false;
    try {
      await this.pullChanges();
    } catch (err) {
      // Nothing may be missed: the next look asks the store again.
      this.dirty = true;
      throw err;
    }
  }

  private async pullChanges(): Promise<void> {
    const changes = await this.store.changesSince(this.mailbox.id, this.modseq);
    const lastKnown = this.pendingNew.length > 0 ? this.pendingNew[this.pendingNew.length - 1]! : (this.uids[this.uids.length - 1] ?? 0);
    const added: number[] = [];
    for (const entry of changes.changed) {
      this.noteKeywords(entry.flags);
      if (entry.uid > lastKnown) {
        added.push(entry.uid);
        continue;
      }
      const own = this.ownChanges.get(entry.uid);
      if (own !== undefined && own >= entry.modseq) continue;
      if (this.seqOf(entry.uid) > 0 || this.pendingNew.includes(entry.uid)) this.pendingFlags.set(entry.uid, entry);
    }
    for (const uid of changes.expunged) {
      if (this.seqOf(uid) > 0) this.pendingExpunged.add(uid);
      else {
        const i = this.pendingNew.indexOf(uid);
        if (i >= 0) this.pendingNew.splice(i, 1);
        this.pendingRecent.delete(uid);
      }
    }
    // A message that came and went between two looks never existed for this client.
    const gone = new Set(changes.expunged);
    added.sort((a, b) => a - b);
    const arrived = added.filter((uid) => !gone.has(uid));
    for (const uid of arrived) this.pendingNew.push(uid);
    // This session is the first to learn of them here; the store says whether it is the first
    // anywhere (\Recent belongs to exactly one session).
    if (!this.readOnly && arrived.length > 0) {
      try {
        const claimedBefore = await this.store.claimRecent(this.mailbox.id, arrived[arrived.length - 1]!);
        for (const uid of arrived) if (uid > claimedBefore) this.pendingRecent.add(uid);
      } catch (err) {
        // The mailbox is gone (its deletion is announced on its own): nothing to claim.
        if (!(err instanceof StoreError && err.code === 'not-found')) throw err;
      }
    }
    this.ownChanges.clear();
    this.modseq = Math.max(this.modseq, changes.highestModseq);
  }

  /**
   * Announces what is waiting: expunges (only when `allowExpunge`), new messages, and flag
   * changes by others. Returns true if anything was written.
   */
  flush(out: ResponseWriter, allowExpunge: boolean): boolean {
    let wrote = false;
    if (allowExpunge && this.pendingExpunged.size > 0) {
      const gone = [...this.pendingExpunged].sort((a, b) => a - b);
      if (this.options.qresync()) {
        for (const uid of gone) this.removeOwn(uid);
        out.untagged(`VANISHED ${formatNumberSet(gone)}`);
      } else {
        // Highest first, so every number sent is still valid when the client applies it.
        for (let i = gone.length - 1; i >= 0; i--) {
          const seq = this.removeOwn(gone[i]!);
          if (seq > 0) out.untagged(`${seq} EXPUNGE`);
        }
      }
      wrote = true;
    }
    if (this.pendingNew.length > 0) {
      const uids = this.mutableUids();
      for (const uid of this.pendingNew) {
        uids.push(uid);
        if (this.pendingRecent.delete(uid)) this.recent.add(uid);
      }
      this.pendingNew = [];
      out.untagged(`${this.uids.length} EXISTS`);
      out.untagged(`${this.recent.size} RECENT`);
      wrote = true;
    }
    if (this.pendingFlags.size > 0) {
      for (const [uid, entry] of this.pendingFlags) {
        if (this.pendingExpunged.has(uid)) continue;
        const seq = this.seqOf(uid);
        if (seq === 0) continue;
        const modseq = this.options.condstore() ? ` MODSEQ (${entry.modseq})` : '';
        out.untagged(`${seq} FETCH (UID ${uid} FLAGS ${formatFlags(entry.flags, this.recent.has(uid))}${modseq})`);
      }
      this.pendingFlags.clear();
      wrote = true;
    }
    return wrote;
  }
}
