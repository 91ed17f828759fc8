/** IMAP subscriptions: names per user, kept whether or not a mailbox has the name. */
import { StoreError } from '../types.js';
import { normalizeMailboxName } from '../normalize.js';
import type { Db } from './schema.js';
import type { WriteQueue } from './write-queue.js';

/** Matches a name and every name below it (@user, @old). */
const NAME_AND_CHILDREN = `user_id = @user AND (name = @old OR substr(name, 1, length(@old) + 1) = @old || '/')`;

export class Subscriptions {
  private readonly stmts;

  constructor(
    db: Db,
    private readonly queue: WriteQueue,
  ) {
    this.stmts = {
      userExists: db.prepare('SELECT 1 FROM users WHERE id = ?').pluck(),
      add: db.prepare('INSERT OR IGNORE INTO subscriptions (user_id, name) VALUES (?, ?)'),
      remove: db.prepare('DELETE FROM subscriptions WHERE user_id = ? AND name = ?'),
      list: db.prepare('SELECT name FROM subscriptions WHERE user_id = ? ORDER BY name').pluck(),
      removeSubtree: db.prepare(`DELETE FROM subscriptions WHERE ${NAME_AND_CHILDREN} RETURNING name`).pluck(),
    };
  }

  async set(userId: number, name: string, subscribed: boolean): Promise<void> {
    const normalized = normalizeMailboxName(name);
    return this.queue.run(() => {
      if (!this.stmts.userExists.get(userId)) throw new StoreError('not-found', `no user ${userId}`);
      if (subscribed) this.addInTx(userId, normalized);
      else this.stmts.remove.run(userId, normalized);
    });
  }

  async list(userId: number): Promise<string[]> {
    return this.stmts.list.all(userId) as string[];
  }

  /** Inside a write transaction: subscribes to a (normalised) name. */
  addInTx(userId: number, name: string): void {
    this.stmts.add.run(userId, name);
  }

  /** Inside a write transaction: `old` and the names below it become `new...` (normalised names). */
  renameInTx(userId: number, oldName: string, newName: string): void {
    // All removed first: a new name may be one of the old ones ('a/b' to 'a' makes 'a/b/b' 'a/b').
    const names = this.stmts.removeSubtree.all({ user: userId, old: oldName }) as string[];
    for (const name of names) this.addInTx(userId, newName + name.slice(oldName.length));
  }
}
