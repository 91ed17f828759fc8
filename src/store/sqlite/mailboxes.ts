/** Mailboxes: creation (with UIDVALIDITY), lookup, and the per-mailbox counters. */
import { StoreError, type Mailbox, type MailboxRole } from '../types.js';
import { normalizeMailboxName } from '../normalize.js';
import type { Db } from './schema.js';
import type { WriteQueue } from './write-queue.js';

interface MailboxRow {
  id: number;
  user_id: number;
  name: string;
  role: string | null;
  uid_validity: number;
  uid_next: number;
  highest_modseq: number;
  subscribed: number;
  message_count: number;
  total_bytes: number;
}

const MAILBOX_SELECT = `SELECT m.id, m.user_id, m.name, m.role, m.uid_validity, m.uid_next, m.highest_modseq,
    m.message_count, m.total_bytes,
    EXISTS (SELECT 1 FROM subscriptions s WHERE s.user_id = m.user_id AND s.name = m.name) AS subscribed
  FROM mailboxes m`;

const ROLES: ReadonlySet<string> = new Set(['inbox', 'sent', 'drafts', 'trash', 'junk', 'archive']);

function toMailbox(r: MailboxRow): Mailbox {
  return {
    id: r.id,
    userId: r.user_id,
    name: r.name,
    role: r.role as MailboxRole | null,
    uidValidity: r.uid_validity,
    uidNext: r.uid_next,
    highestModseq: r.highest_modseq,
    subscribed: r.subscribed !== 0,
    messageCount: r.message_count,
    totalBytes: r.total_bytes,
  };
}

export class Mailboxes {
  private readonly stmts;

  constructor(
    db: Db,
    private readonly queue: WriteQueue,
  ) {
    this.stmts = {
      byUser: db.prepare(`${MAILBOX_SELECT} WHERE m.user_id = ? ORDER BY m.id`),
      byName: db.prepare(`${MAILBOX_SELECT} WHERE m.user_id = ? AND m.name = ?`),
      byId: db.prepare(`${MAILBOX_SELECT} WHERE m.id = ?`),
      userExists: db.prepare('SELECT 1 FROM users WHERE id = ?').pluck(),
      insert: db
        .prepare('INSERT INTO mailboxes (user_id, name, role, uid_validity) VALUES (?, ?, ?, ?) RETURNING id')
        .pluck(),
      lastUidValidity: db.prepare(`SELECT value FROM meta WHERE key = 'last_uid_validity'`).pluck(),
      setLastUidValidity: db.prepare(
        `INSERT INTO meta (key, value) VALUES ('last_uid_validity', ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      ),
      modseq: db.prepare('SELECT highest_modseq FROM mailboxes WHERE id = ?').pluck(),
    };
  }

  async list(userId: number): Promise<Mailbox[]> {
    return (this.stmts.byUser.all(userId) as MailboxRow[]).map(toMailbox);
  }

  async get(userId: number, name: string): Promise<Mailbox | null> {
    let normalized: string;
    try {
      normalized = normalizeMailboxName(name);
    } catch {
      return null;
    }
    const row = this.stmts.byName.get(userId, normalized) as MailboxRow | undefined;
    return row ? toMailbox(row) : null;
  }

  async getById(mailboxId: number): Promise<Mailbox | null> {
    const row = this.stmts.byId.get(mailboxId) as MailboxRow | undefined;
    return row ? toMailbox(row) : null;
  }

  /** Synchronous read used inside write transactions (name already normalised). */
  getInTx(userId: number, name: string): Mailbox | null {
    const row = this.stmts.byName.get(userId, name) as MailboxRow | undefined;
    return row ? toMailbox(row) : null;
  }

  /** Synchronous read used inside write transactions; throws not-found. */
  requireInTx(mailboxId: number): Mailbox {
    const row = this.stmts.byId.get(mailboxId) as MailboxRow | undefined;
    if (!row) throw new StoreError('not-found', `no mailbox ${mailboxId}`);
    return toMailbox(row);
  }

  /** Current highest modseq, or null if the mailbox no longer exists (used by watchers). */
  highestModseq(mailboxId: number): number | null {
    return (this.stmts.modseq.get(mailboxId) as number | undefined) ?? null;
  }

  async create(userId: number, name: string, role: MailboxRole | null = null): Promise<Mailbox> {
    const normalized = normalizeMailboxName(name);
    if (role !== null && !ROLES.has(role)) throw new StoreError('invalid', `invalid mailbox role: ${role}`);
    return this.queue.run(() => {
      if (!this.stmts.userExists.get(userId)) throw new StoreError('not-found', `no user ${userId}`);
      return this.insertInTx(userId, normalized, role);
    });
  }

  /** Inside a write transaction: creates a mailbox (name already normalised). */
  insertInTx(userId: number, name: string, role: MailboxRole | null): Mailbox {
    if (this.stmts.byName.get(userId, name)) {
      throw new StoreError('conflict', `mailbox ${JSON.stringify(name)} already exists`);
    }
    const id = this.stmts.insert.get(userId, name, role, this.nextUidValidityInTx()) as number;
    return this.requireInTx(id);
  }

  /**
   * UIDVALIDITY: seconds since the epoch, but strictly increasing across the whole store so
   * that a mailbox re-created under the same name (even within the same second, or after the
   * clock stepped back) never reuses a value a client may have cached.
   */
  private nextUidValidityInTx(): number {
    const last = (this.stmts.lastUidValidity.get() as number | undefined) ?? 0;
    const next = Math.max(Math.floor(Date.now() / 1000), last + 1);
    this.stmts.setLastUidValidity.run(next);
    return next;
  }
}
