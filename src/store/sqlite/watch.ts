/**
 * Mailbox change notifications.
 *
 * Changes committed by this connection are announced right after their commit (the write
 * queue reports the mailboxes it touched). Changes by OTHER connections (another process, e.g.
 * the CLI, or another store instance) are found by polling `PRAGMA data_version`, which only
 * moves when someone else commits and costs no I/O; only then are the watched mailboxes'
 * highest_modseq values re-read. The timer runs only while something is watched and is
 * unref()'d so it never keeps the process alive.
 */
import type { MailboxWatch } from '../types.js';
import type { Db } from './schema.js';

export const POLL_INTERVAL_MS = 200;

interface Watched {
  subscribers: Set<() => void>;
  /** Last highest_modseq seen (null: the mailbox does not exist). */
  modseq: number | null;
}

export class Watchers {
  private readonly watched = new Map<number, Watched>();
  private timer: NodeJS.Timeout | null = null;
  private lastDataVersion: number;
  private readonly dataVersion;

  constructor(
    db: Db,
    /** Reads a mailbox's current highest_modseq (null if it is gone). */
    private readonly readModseq: (mailboxId: number) => number | null,
  ) {
    this.dataVersion = db.prepare('PRAGMA data_version').pluck();
    this.lastDataVersion = this.dataVersion.get() as number;
  }

  watch(mailboxId: number, onChange: () => void): MailboxWatch {
    let entry = this.watched.get(mailboxId);
    if (!entry) {
      entry = { subscribers: new Set(), modseq: this.readModseq(mailboxId) };
      this.watched.set(mailboxId, entry);
    }
    // Wrap so the same function can be registered twice and closed independently.
    const subscriber = () => onChange();
    entry.subscribers.add(subscriber);
    this.startPolling();
    let closed = false;
    return {
      close: () => {
        if (closed) return;
        closed = true;
        const current = this.watched.get(mailboxId);
        if (!current) return;
        current.subscribers.delete(subscriber);
        if (current.subscribers.size === 0) this.watched.delete(mailboxId);
        if (this.watched.size === 0) this.stopPolling();
      },
    };
  }

  /** After a local commit: notify the watchers of the mailboxes it touched. */
  notifyCommitted(mailboxIds: Iterable<number>): void {
    for (const id of mailboxIds) {
      const entry = this.watched.get(id);
      if (!entry) continue;
      // Remember the new modseq so the next poll does not report the same change again.
      entry.modseq = this.readModseq(id);
      this.fire(entry);
    }
  }

  /** Checks for commits by other connections. */
  poll(): void {
    const version = this.dataVersion.get() as number;
    if (version === this.lastDataVersion) return;
    this.lastDataVersion = version;
    for (const [id, entry] of [...this.watched]) {
      const modseq = this.readModseq(id);
      if (modseq !== entry.modseq) {
        entry.modseq = modseq;
        this.fire(entry);
      }
    }
  }

  close(): void {
    this.stopPolling();
    this.watched.clear();
  }

  private fire(entry: Watched): void {
    for (const subscriber of [...entry.subscribers]) {
      try {
        subscriber();
      } catch (err) {
        process.emitWarning(`store: mailbox watcher threw: ${String(err)}`);
      }
    }
  }

  private startPolling(): void {
    if (this.timer) return;
    // Commits by others that happened before polling started are not news to new watchers.
    this.lastDataVersion = this.dataVersion.get() as number;
    this.timer = setInterval(() => this.poll(), POLL_INTERVAL_MS);
    this.timer.unref();
  }

  private stopPolling(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
