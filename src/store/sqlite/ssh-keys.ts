/** Users' SSH public keys (a key goes with its user: ON DELETE CASCADE). */
import { tryParseAddress } from '../normalize.js';
import { checkSshKey } from '../ssh-key-check.js';
import { StoreError, type SshKey } from '../types.js';
import type { Db } from './schema.js';
import type { WriteQueue } from './write-queue.js';

interface KeyRow {
  algorithm: string;
  public_key: Buffer;
  comment: string;
  fingerprint: string;
  created_at: number;
}

export class SshKeys {
  private readonly stmts;

  constructor(
    db: Db,
    private readonly queue: WriteQueue,
  ) {
    this.stmts = {
      userId: db.prepare('SELECT id FROM users WHERE address = ?').pluck(),
      exists: db.prepare('SELECT 1 FROM ssh_keys WHERE user_id = ? AND fingerprint = ?').pluck(),
      insert: db.prepare(
        `INSERT INTO ssh_keys (user_id, algorithm, public_key, comment, fingerprint, created_at)
         VALUES (@userId, @algorithm, @publicKey, @comment, @fingerprint, @createdAt)`,
      ),
      list: db.prepare(
        `SELECT k.algorithm, k.public_key, k.comment, k.fingerprint, k.created_at
         FROM ssh_keys k JOIN users u ON u.id = k.user_id
         WHERE u.address = ? ORDER BY k.created_at, k.id`,
      ),
      remove: db.prepare(
        'DELETE FROM ssh_keys WHERE fingerprint = ? AND user_id = (SELECT id FROM users WHERE address = ?)',
      ),
    };
  }

  async add(address: string, input: { algorithm: string; publicKey: Buffer; comment: string }): Promise<SshKey> {
    const key = checkSshKey(input);
    const parsed = tryParseAddress(address);
    const createdAt = new Date();
    return this.queue.run(() => {
      const userId = parsed ? (this.stmts.userId.get(parsed.address) as number | undefined) : undefined;
      if (userId === undefined) throw new StoreError('not-found', `no user ${address}`);
      if (this.stmts.exists.get(userId, key.fingerprint)) throw new StoreError('conflict', 'the user has this key already');
      this.stmts.insert.run({ userId, ...key, createdAt: createdAt.getTime() });
      return { ...key, createdAt };
    });
  }

  async list(address: string): Promise<SshKey[]> {
    const parsed = tryParseAddress(address);
    if (!parsed) return [];
    return (this.stmts.list.all(parsed.address) as KeyRow[]).map((row) => ({
      algorithm: row.algorithm,
      publicKey: row.public_key,
      comment: row.comment,
      fingerprint: row.fingerprint,
      createdAt: new Date(row.created_at),
    }));
  }

  async remove(address: string, fingerprint: string): Promise<boolean> {
    const parsed = tryParseAddress(address);
    if (!parsed) return false;
    return this.queue.run(() => this.stmts.remove.run(fingerprint, parsed.address).changes > 0);
  }
}
