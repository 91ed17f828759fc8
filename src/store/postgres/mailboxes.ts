/** Mailboxes: creation (with UIDVALIDITY), lookup, row locks, and IMAP subscriptions. */
import { StoreError, type Mailbox, type MailboxRole } from '../types.js';
import { normalizeMailboxName } from '../normalize.js';
import type { Database, Tx } from './db.js';

interface MailboxRow {
  id: number;
  user_id: number;
  name: string;
  role: string | null;
  uid_validity: number;
  uid_next: number;
  highest_modseq: number;
  subscribed: boolean;
  message_count: number;
  total_bytes: number;
}

const MAILBOX_SELECT = `SELECT m.id, m.user_id, m.name, m.role, m.uid_validity, m.uid_next, m.highest_modseq,
    m.message_count, m.total_bytes,
    EXISTS (SELECT 1 FROM subscriptions s WHERE s.user_id = m.user_id AND s.name = m.name) AS subscribed
  FROM mailboxes m`;

const ROLES: ReadonlySet<string> = new Set(['inbox', 'sent', 'drafts', 'trash', 'junk', 'archive']);

/** Matches a name and every name below it ($1 user, $2 name). */
const NAME_AND_CHILDREN = `user_id = $1 AND (name = $2 OR starts_with(name, $2 || '/'))`;

function toMailbox(r: MailboxRow): Mailbox {
  return {
    id: r.id,
    userId: r.user_id,
    name: r.name,
    role: r.role as MailboxRole | null,
    uidValidity: r.uid_validity,
    uidNext: r.uid_next,
    highestModseq: r.highest_modseq,
    subscribed: r.subscribed,
    messageCount: r.message_count,
    totalBytes: r.total_bytes,
  };
}

/** A mailbox id as a query parameter; anything else cannot name a mailbox. */
export function isId(id: unknown): id is number {
  return Number.isSafeInteger(id);
}

export class Mailboxes {
  constructor(private readonly db: Database) {}

  async list(userId: number): Promise<Mailbox[]> {
    if (!isId(userId)) return [];
    return (await this.db.rows<MailboxRow>(`${MAILBOX_SELECT} WHERE m.user_id = $1 ORDER BY m.id`, [userId])).map(
      toMailbox,
    );
  }

  async get(userId: number, name: string): Promise<Mailbox | null> {
    let normalized: string;
    try {
      normalized = normalizeMailboxName(name);
    } catch {
      return null;
    }
    if (!isId(userId)) return null;
    const row = await this.db.one<MailboxRow>(`${MAILBOX_SELECT} WHERE m.user_id = $1 AND m.name = $2`, [
      userId,
      normalized,
    ]);
    return row ? toMailbox(row) : null;
  }

  async getById(mailboxId: number): Promise<Mailbox | null> {
    if (!isId(mailboxId)) return null;
    const row = await this.db.one<MailboxRow>(`${MAILBOX_SELECT} WHERE m.id = $1`, [mailboxId]);
    return row ? toMailbox(row) : null;
  }

  async create(userId: number, name: string, role: MailboxRole | null = null): Promise<Mailbox> {
    const normalized = normalizeMailboxName(name);
    if (role !== null && !ROLES.has(role)) throw new StoreError('invalid', `invalid mailbox role: ${role}`);
    if (!isId(userId)) throw new StoreError('not-found', `no user ${userId}`);
    return this.db.transaction(async (tx) => {
      if (!(await tx.one('SELECT 1 FROM users WHERE id = $1', [userId]))) {
        throw new StoreError('not-found', `no user ${userId}`);
      }
      return this.insertInTx(tx, userId, normalized, role);
    });
  }

  /** Inside a transaction: a mailbox by (normalised) name, or null. */
  async getInTx(tx: Tx, userId: number, name: string): Promise<Mailbox | null> {
    const row = await tx.one<MailboxRow>(`${MAILBOX_SELECT} WHERE m.user_id = $1 AND m.name = $2`, [userId, name]);
    return row ? toMailbox(row) : null;
  }

  /** Inside a transaction: a mailbox by id; throws not-found. */
  async requireInTx(tx: Tx, mailboxId: number): Promise<Mailbox> {
    const row = isId(mailboxId) ? await tx.one<MailboxRow>(`${MAILBOX_SELECT} WHERE m.id = $1`, [mailboxId]) : undefined;
    if (!row) throw new StoreError('not-found', `no mailbox ${mailboxId}`);
    return toMailbox(row);
  }

  /**
   * Inside a transaction: locks the mailboxes (in id order, so two transactions locking the
   * same ones cannot deadlock) until the transaction ends, and returns them by id. Every
   * change to a mailbox's entries takes this lock first: it serialises UID and modseq
   * allocation and the read-modify-write of flags across every node. Throws not-found if one is missing.
   */
  async lockInTx(tx: Tx, mailboxIds: readonly number[]): Promise<Map<number, Mailbox>> {
    const ids = [...new Set(mailboxIds)];
    for (const id of ids) if (!isId(id)) throw new StoreError('not-found', `no mailbox ${id}`);
    const rows = await tx.rows<MailboxRow>(`${MAILBOX_SELECT} WHERE m.id = ANY($1) ORDER BY m.id FOR UPDATE OF m`, [ids]);
    const found = new Map(rows.map((r) => [r.id, toMailbox(r)]));
    for (const id of ids) if (!found.has(id)) throw new StoreError('not-found', `no mailbox ${id}`);
    return found;
  }

  /** Inside a transaction: locks one mailbox (see lockInTx) and returns it. */
  async lockOneInTx(tx: Tx, mailboxId: number): Promise<Mailbox> {
    return (await this.lockInTx(tx, [mailboxId])).get(mailboxId)!;
  }

  /** Inside a transaction: creates mailboxes (names normalised); 'conflict' if one exists. */
  async insertInTx(tx: Tx, userId: number, name: string, role: MailboxRole | null): Promise<Mailbox> {
    return (await this.insertManyInTx(tx, userId, [{ name, role }]))[0]!;
  }

  async insertManyInTx(
    tx: Tx,
    userId: number,
    mailboxes: ReadonlyArray<{ name: string; role: MailboxRole | null }>,
  ): Promise<Mailbox[]> {
    const names = mailboxes.map((m) => m.name);
    const existing = await tx.one<{ name: string }>('SELECT name FROM mailboxes WHERE user_id = $1 AND name = ANY($2)', [
      userId,
      names,
    ]);
    if (existing) throw new StoreError('conflict', `mailbox ${JSON.stringify(existing.name)} already exists`);
    const first = await this.nextUidValiditiesInTx(tx, mailboxes.length);
    const ids = await tx.rows<{ id: number }>(
      `INSERT INTO mailboxes (user_id, name, role, uid_validity)
       SELECT $1, s.name, s.role, $4 + s.ord - 1 FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS s(name, role, ord)
       ORDER BY s.ord RETURNING id`,
      [userId, names, mailboxes.map((m) => m.role), first],
    );
    const rows = await tx.rows<MailboxRow>(`${MAILBOX_SELECT} WHERE m.id = ANY($1) ORDER BY m.id`, [
      ids.map((r) => r.id),
    ]);
    return rows.map(toMailbox);
  }

  /** Current highest modseq, or null if the mailbox no longer exists. */
  async highestModseq(mailboxId: number): Promise<number | null> {
    if (!isId(mailboxId)) return null;
    const row = await this.db.one<{ highest_modseq: number }>('SELECT highest_modseq FROM mailboxes WHERE id = $1', [
      mailboxId,
    ]);
    return row?.highest_modseq ?? null;
  }

  /**
   * Reserves `count` UIDVALIDITY values and returns the first: seconds since the epoch, but
   * strictly increasing across the whole store (the counter row is locked until commit), so
   * that a mailbox re-created under the same name never reuses a value a client may have cached.
   */
  private async nextUidValiditiesInTx(tx: Tx, count: number): Promise<number> {
    const now = Math.floor(Date.now() / 1000);
    const row = await tx.one<{ value: number }>(
      `INSERT INTO meta (key, value) VALUES ('last_uid_validity', $1::bigint + $2 - 1)
       ON CONFLICT (key) DO UPDATE SET value = GREATEST($1::bigint, meta.value + 1) + $2 - 1
       RETURNING value`,
      [now, count],
    );
    return row!.value - count + 1;
  }

  /**
   * Inside a transaction: makes every UIDVALIDITY handed out later exceed `uidValidity` (one
   * a restore brought in from another store), through the same counter row.
   */
  async raiseUidValidityFloorInTx(tx: Tx, uidValidity: number): Promise<void> {
    await tx.rows(
      `INSERT INTO meta (key, value) VALUES ('last_uid_validity', $1)
       ON CONFLICT (key) DO UPDATE SET value = GREATEST(meta.value, excluded.value)`,
      [uidValidity],
    );
  }

  // ---- subscriptions -------------------------------------------------------------------

  async setSubscribed(userId: number, name: string, subscribed: boolean): Promise<void> {
    const normalized = normalizeMailboxName(name);
    if (!isId(userId)) throw new StoreError('not-found', `no user ${userId}`);
    return this.db.transaction(async (tx) => {
      if (!(await tx.one('SELECT 1 FROM users WHERE id = $1', [userId]))) {
        throw new StoreError('not-found', `no user ${userId}`);
      }
      if (subscribed) await this.subscribeInTx(tx, userId, [normalized]);
      else await tx.rows('DELETE FROM subscriptions WHERE user_id = $1 AND name = $2', [userId, normalized]);
    });
  }

  async listSubscriptions(userId: number): Promise<string[]> {
    if (!isId(userId)) return [];
    // COLLATE "C": sorted by code point, as SQLite sorts, whatever the database's locale.
    const rows = await this.db.rows<{ name: string }>(
      'SELECT name FROM subscriptions WHERE user_id = $1 ORDER BY name COLLATE "C"',
      [userId],
    );
    return rows.map((r) => r.name);
  }

  /** Inside a transaction: subscribes to (normalised) names. */
  async subscribeInTx(tx: Tx, userId: number, names: readonly string[]): Promise<void> {
    await tx.rows(
      'INSERT INTO subscriptions (user_id, name) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING',
      [userId, names],
    );
  }

  /** Inside a transaction: `old` and the names below it become `new...` (normalised names). */
  async renameSubscriptionsInTx(tx: Tx, userId: number, oldName: string, newName: string): Promise<void> {
    // All removed first: a new name may be one of the old ones ('a/b' to 'a' makes 'a/b/b' 'a/b').
    const removed = await tx.rows<{ name: string }>(
      `DELETE FROM subscriptions WHERE ${NAME_AND_CHILDREN} RETURNING name`,
      [userId, oldName],
    );
    if (removed.length > 0) {
      await this.subscribeInTx(
        tx,
        userId,
        removed.map((r) => newName + r.name.slice(oldName.length)),
      );
    }
  }

  /** Inside a transaction: the mailboxes named `name` or below it. */
  async subtreeInTx(tx: Tx, userId: number, name: string): Promise<Array<{ id: number; name: string }>> {
    return tx.rows<{ id: number; name: string }>(`SELECT id, name FROM mailboxes WHERE ${NAME_AND_CHILDREN}`, [
      userId,
      name,
    ]);
  }
}
