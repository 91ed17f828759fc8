/**
 * Copying one store into another (`wharf store copy`), through the Store contract alone, so
 * any backend can be either side (SQLite to PostgreSQL when moving up to several nodes).
 *
 * What IMAP clients cache survives: every mailbox keeps its UIDVALIDITY, UIDNEXT and highest
 * modseq, and every entry its UID, flags, modseq and internal date (RestoreStore). Bodies are
 * streamed from one store into the other, never held whole.
 *
 * Running it again brings the target up to date instead of starting over: accounts are
 * compared and fixed, a mailbox continues above its highest copied UID, flags changed in the
 * source since are set in the target, and entries the source has expunged since are expunged
 * from the target. It never deletes users, domains or a mailbox holding mail from the target;
 * what it cannot reconcile is left for the verification to report. The source may be live
 * (each mailbox is copied as it was when the copy reached it; a later run takes the rest);
 * the target must not be serving clients while the copy runs (RestoreStore). Messages waiting
 * in the outbound queue come across with their recipients' states (copy-queue.ts).
 */
import { copyAccounts } from './copy-accounts.js';
import { copyQueue, type QueueCopyCounts } from './copy-queue.js';
import { entryPages, flagKey, verifyCopy, type CopySnapshots, type VerificationReport } from './copy-verify.js';
import { StoreError, type EntryRestore, type Mailbox, type MailboxEntry, type Store, type User } from './types.js';

export type { VerificationReport } from './copy-verify.js';

/** What a copy did (this run only). */
export interface CopyCounts extends QueueCopyCounts {
  domainsAdded: number;
  /** DKIM keys set in the target (missing there, or another key than the source's). */
  dkimKeysCopied: number;
  usersAdded: number;
  /** Users whose password hash or quota was updated. */
  usersUpdated: number;
  /** SSH keys added to the target's users, and removed from them (no longer the source's). */
  sshKeysCopied: number;
  sshKeysRemoved: number;
  aliasTargetsAdded: number;
  aliasTargetsRemoved: number;
  mailboxes: number;
  /** Empty target mailboxes the source does not have (e.g. a default one its user deleted). */
  mailboxesRemoved: number;
  messagesCopied: number;
  bytesCopied: number;
  /** Messages already in the target (from an earlier run). */
  messagesSkipped: number;
  /** Messages whose flags were set again because they changed in the source. */
  flagsUpdated: number;
  /** Target messages the source no longer has (expunged there since an earlier run). */
  messagesExpunged: number;
  /** Messages expunged from the source while they were being copied. */
  messagesVanished: number;
}

export interface CopyProgress {
  phase: 'accounts' | 'mail' | 'verify';
  user?: string;
  mailbox?: string;
  /** For the mailbox being copied: the messages the copy will look at. */
  mailboxMessages?: number;
  /** Of them: copied so far and already there (this run). */
  mailboxCopied?: number;
  mailboxSkipped?: number;
  /** True on the last event for the mailbox (or the phase). */
  done: boolean;
  totals: Readonly<CopyCounts>;
}

export interface CopyOptions {
  /**
   * Called as the copy goes (and awaited). An exception thrown here stops the copy (and is
   * rethrown), as does aborting `signal`: what was committed stays, and running the copy
   * again resumes.
   */
  onProgress?: (progress: CopyProgress) => void | Promise<void>;
  signal?: AbortSignal;
  /** Compare both stores afterwards (default true). */
  verify?: boolean;
  /** Entries committed per transaction (default 100), and body bytes at most per batch (default 16 MiB). */
  batchEntries?: number;
  batchBytes?: number;
}

export interface CopyReport {
  counts: CopyCounts;
  /** Differences the copy itself found and could not repair (the verification reports them too). */
  problems: string[];
  verification: VerificationReport | null;
}

/** Source message id → the target message holding the same body (to share bodies, as the source does). */
const SHARED_BODIES_REMEMBERED = 100_000;

export async function copyStore(source: Store, target: Store, options: CopyOptions = {}): Promise<CopyReport> {
  const run = new CopyRun(source, target, options);
  await run.copyAccounts();
  await run.copyMail();
  // After the mailboxes: a queued body the source shares with an entry is shared in the target too.
  await copyQueue(source, target, run.sharedBodies, run.counts, () => run.checkAbort());
  let verification: VerificationReport | null = null;
  if (options.verify !== false) {
    verification = await verifyCopy(source, target, run.snapshots, async (user, mailbox) => {
      run.checkAbort();
      await run.progress({ phase: 'verify', user, mailbox, done: false });
    });
    await run.progress({ phase: 'verify', done: true });
  }
  return { counts: run.counts, problems: run.problems, verification };
}

class CopyRun {
  readonly counts: CopyCounts = {
    domainsAdded: 0,
    dkimKeysCopied: 0,
    usersAdded: 0,
    usersUpdated: 0,
    sshKeysCopied: 0,
    sshKeysRemoved: 0,
    aliasTargetsAdded: 0,
    aliasTargetsRemoved: 0,
    mailboxes: 0,
    mailboxesRemoved: 0,
    messagesCopied: 0,
    bytesCopied: 0,
    messagesSkipped: 0,
    flagsUpdated: 0,
    messagesExpunged: 0,
    messagesVanished: 0,
    queuedCopied: 0,
    queuedUnchanged: 0,
    queuedRemoved: 0,
  };
  readonly problems: string[] = [];
  readonly snapshots: CopySnapshots = new Map();
  /** Source message id → the target message holding the same body, for the entries copied in this run. */
  readonly sharedBodies = new Map<number, number>();
  private readonly batchEntries: number;
  private readonly batchBytes: number;

  constructor(
    private readonly source: Store,
    private readonly target: Store,
    private readonly options: CopyOptions,
  ) {
    this.batchEntries = Math.max(1, options.batchEntries ?? 100);
    this.batchBytes = Math.max(1, options.batchBytes ?? 16 * 1024 * 1024);
  }

  checkAbort(): void {
    this.options.signal?.throwIfAborted();
  }

  async progress(event: Omit<CopyProgress, 'totals'>): Promise<void> {
    await this.options.onProgress?.({ ...event, totals: { ...this.counts } });
  }

  async copyAccounts(): Promise<void> {
    await copyAccounts(this.source, this.target, this.counts, () => this.checkAbort());
    await this.progress({ phase: 'accounts', done: true });
  }

  async copyMail(): Promise<void> {
    for (const user of await this.source.listUsers()) {
      this.checkAbort();
      const targetUser = await this.target.getUser(user.address);
      if (!targetUser) continue; // added to the source after the accounts were copied
      const seen = new Map<string, { uidNext: number; highestModseq: number }>();
      this.snapshots.set(user.address, seen);
      const mailboxes = await this.source.listMailboxes(user.id);
      for (const mailbox of mailboxes) {
        seen.set(mailbox.name, { uidNext: mailbox.uidNext, highestModseq: mailbox.highestModseq });
        await this.copyMailbox(user, targetUser, mailbox);
      }
      await this.reconcileMailboxList(user, targetUser, new Set(mailboxes.map((m) => m.name)));
    }
  }

  /** Subscriptions (names, with or without a mailbox) and target mailboxes the source lacks. */
  private async reconcileMailboxList(user: User, targetUser: User, names: Set<string>): Promise<void> {
    const { source, target } = this;
    for (const mailbox of await target.listMailboxes(targetUser.id)) {
      if (names.has(mailbox.name) || mailbox.messageCount > 0 || mailbox.name === 'INBOX') continue;
      await target.deleteMailbox(mailbox.id);
      this.counts.mailboxesRemoved++;
    }
    const wanted = new Set(await source.listSubscriptions(user.id));
    const have = new Set(await target.listSubscriptions(targetUser.id));
    for (const name of wanted) if (!have.has(name)) await target.setSubscribed(targetUser.id, name, true);
    for (const name of have) if (!wanted.has(name)) await target.setSubscribed(targetUser.id, name, false);
  }

  /**
   * One mailbox, below the UIDNEXT it has now: first the entries both stores have are
   * compared (flags fixed, entries the source expunged since removed), then what the target
   * lacks above its highest UID is streamed over in batches.
   */
  private async copyMailbox(user: User, targetUser: User, mailbox: Mailbox): Promise<void> {
    const { source, target } = this;
    const where = `${user.address} ${mailbox.name}`;
    let copy: Mailbox;
    try {
      copy = await target.restoreMailbox(targetUser.id, {
        name: mailbox.name,
        role: mailbox.role,
        uidValidity: mailbox.uidValidity,
        uidNext: mailbox.uidNext,
        highestModseq: mailbox.highestModseq,
        subscribed: mailbox.subscribed,
      });
    } catch (err) {
      if (!(err instanceof StoreError && err.code === 'conflict')) throw err;
      this.problems.push(`${where}: ${err.message}`);
      return;
    }
    this.counts.mailboxes++;
    const lastUid = mailbox.uidNext - 1;
    const state = { user: user.address, mailbox: mailbox.name, copied: 0, skipped: 0, total: mailbox.messageCount };
    const report = (done: boolean) =>
      this.progress({
        phase: 'mail',
        user: state.user,
        mailbox: state.mailbox,
        mailboxMessages: state.total,
        mailboxCopied: state.copied,
        mailboxSkipped: state.skipped,
        done,
      });

    const highestKept = await this.reconcileEntries(where, mailbox.id, copy.id, lastUid, state);
    const batch = new RestoreBatch();
    try {
      for await (const entry of entryPages(source, mailbox.id, highestKept + 1, lastUid)) {
        this.checkAbort();
        const restore = await this.prepareEntry(entry);
        if (!restore) continue;
        batch.add(restore, entry);
        if (batch.entries.length >= this.batchEntries || batch.bytes >= this.batchBytes) {
          if (!(await this.flush(where, copy.id, batch, state))) return;
          await report(false);
        }
      }
      if (!(await this.flush(where, copy.id, batch, state))) return;
    } finally {
      await batch.abort();
    }
    await report(true);
  }

  /**
   * Walks the entries both stores have below `lastUid`, in UID order: flags that differ are
   * set as in the source, target entries the source no longer has are expunged, and
   * entries that differ in date or size are reported. Returns the highest UID the target
   * keeps (new entries go above it).
   */
  private async reconcileEntries(
    where: string,
    sourceId: number,
    targetId: number,
    lastUid: number,
    state: { skipped: number },
  ): Promise<number> {
    const { source, target } = this;
    const gone: number[] = [];
    const reflag = new Map<string, { flags: string[]; uids: number[] }>();
    let highestKept = 0;
    // Source entries the target lacks: below a UID the target keeps, they can never be added.
    let unmatched = { count: 0, first: 0 };
    const holes = { count: 0, first: 0 };
    const sourceEntries = entryPages(source, sourceId, 1, lastUid);
    let next = await sourceEntries.next();
    for await (const have of entryPages(target, targetId, 1, lastUid)) {
      while (!next.done && next.value.uid < have.uid) {
        if (unmatched.count++ === 0) unmatched.first = next.value.uid;
        next = await sourceEntries.next();
      }
      if (next.done || next.value.uid !== have.uid) {
        gone.push(have.uid);
        continue;
      }
      const want = next.value;
      next = await sourceEntries.next();
      highestKept = have.uid;
      if (unmatched.count > 0) {
        if (holes.count === 0) holes.first = unmatched.first;
        holes.count += unmatched.count;
        unmatched = { count: 0, first: 0 };
      }
      state.skipped++;
      this.counts.messagesSkipped++;
      if (want.size !== have.size || want.internalDate.getTime() !== have.internalDate.getTime()) {
        this.problems.push(`${where}: UID ${have.uid} differs in size or date from the source; it cannot be replaced in place`);
      } else if (flagKey(want.flags) !== flagKey(have.flags)) {
        const key = flagKey(want.flags);
        const group = reflag.get(key) ?? { flags: want.flags, uids: [] };
        group.uids.push(have.uid);
        reflag.set(key, group);
      }
    }
    await sourceEntries.return(undefined);
    if (holes.count > 0) {
      this.problems.push(
        `${where}: the target lacks ${holes.count} messages (from UID ${holes.first}) below UIDs it holds; they cannot be added there`,
      );
    }
    for (const { flags, uids } of reflag.values()) {
      const { updated } = await target.setFlags(targetId, uids, 'replace', flags);
      this.counts.flagsUpdated += updated.length;
    }
    if (gone.length > 0) this.counts.messagesExpunged += (await target.expunge(targetId, gone)).length;
    return highestKept;
  }

  /** The entry to restore, with its body streamed into the target (or shared); null if it vanished. */
  private async prepareEntry(entry: MailboxEntry): Promise<EntryRestore | null> {
    const { source, target } = this;
    const base = { uid: entry.uid, flags: entry.flags, modseq: entry.modseq, internalDate: entry.internalDate };
    const sharedId = this.sharedBodies.get(entry.messageId);
    if (sharedId !== undefined) {
      const shared = await target.getMessage(sharedId);
      if (shared && shared.size === entry.size && shared.internalDate.getTime() === entry.internalDate.getTime()) {
        return { ...base, body: { messageId: sharedId } };
      }
      this.sharedBodies.delete(entry.messageId);
    }
    const message = await source.getMessage(entry.messageId);
    const body = target.createBody();
    try {
      if (!message) throw new StoreError('not-found', `no message ${entry.messageId}`);
      for await (const chunk of source.readBody(entry.messageId)) await body.write(chunk);
    } catch (err) {
      await body.abort();
      if (!(err instanceof StoreError && err.code === 'not-found')) throw err;
      this.counts.messagesVanished++;
      return null;
    }
    return { ...base, body, headers: message.headers };
  }

  /** Commits a batch; false when the target refused it as conflicting (reported, mailbox left). */
  private async flush(where: string, targetId: number, batch: RestoreBatch, state: { copied: number }): Promise<boolean> {
    if (batch.entries.length === 0) return true;
    let restored: MailboxEntry[];
    try {
      restored = await this.target.restoreEntries(targetId, batch.entries);
    } catch (err) {
      if (!(err instanceof StoreError && err.code === 'conflict')) throw err;
      this.problems.push(`${where}: ${err.message}`);
      return false;
    }
    restored.forEach((entry, i) => {
      this.rememberShared(batch.sources[i]!.messageId, entry.messageId);
      this.counts.bytesCopied += entry.size;
    });
    this.counts.messagesCopied += restored.length;
    state.copied += restored.length;
    batch.clear();
    return true;
  }

  private rememberShared(sourceId: number, targetId: number): void {
    this.sharedBodies.delete(sourceId);
    this.sharedBodies.set(sourceId, targetId);
    if (this.sharedBodies.size > SHARED_BODIES_REMEMBERED) {
      this.sharedBodies.delete(this.sharedBodies.keys().next().value!);
    }
  }
}

/** Entries waiting to be restored together, with the bodies to abort if they never are. */
class RestoreBatch {
  entries: EntryRestore[] = [];
  sources: MailboxEntry[] = [];
  bytes = 0;

  add(entry: EntryRestore, source: MailboxEntry): void {
    this.entries.push(entry);
    this.sources.push(source);
    this.bytes += source.size;
  }

  clear(): void {
    this.entries = [];
    this.sources = [];
    this.bytes = 0;
  }

  /** Discards the bodies of entries not restored (after a failure or an abort). */
  async abort(): Promise<void> {
    const pending = this.entries;
    this.clear();
    await Promise.all(pending.map((e) => ('messageId' in e.body ? undefined : e.body.abort())));
  }
}
