/** Users' SSH public keys (a key goes with its user: ON DELETE CASCADE). */
import { tryParseAddress } from '../normalize.js';
import { checkSshKey } from '../ssh-key-check.js';
import { StoreError, type SshKey } from '../types.js';
import type { Database } from './db.js';

interface KeyRow {
  algorithm: string;
  public_key: Buffer;
  comment: string;
  fingerprint: string;
  created_at: Date;
}

export class SshKeys {
  constructor(private readonly db: Database) {}

  async add(address: string, input: { algorithm: string; publicKey: Buffer; comment: string }): Promise<SshKey> {
    const key = checkSshKey(input);
    const parsed = tryParseAddress(address);
    if (!parsed) throw new StoreError('not-found', `no user ${address}`);
    const row = await this.db.one<{ created_at: Date }>(
      `INSERT INTO ssh_keys (user_id, algorithm, public_key, comment, fingerprint)
       SELECT id, $2, $3, $4, $5 FROM users WHERE address = $1
       RETURNING created_at`,
      [parsed.address, key.algorithm, key.publicKey, key.comment, key.fingerprint],
    );
    if (!row) throw new StoreError('not-found', `no user ${address}`);
    return { ...key, createdAt: row.created_at };
  }

  async list(address: string): Promise<SshKey[]> {
    const parsed = tryParseAddress(address);
    if (!parsed) return [];
    const rows = await this.db.rows<KeyRow>(
      `SELECT k.algorithm, k.public_key, k.comment, k.fingerprint, k.created_at
       FROM ssh_keys k JOIN users u ON u.id = k.user_id
       WHERE u.address = $1 ORDER BY k.created_at, k.id`,
      [parsed.address],
    );
    return rows.map((row) => ({
      algorithm: row.algorithm,
      publicKey: row.public_key,
      comment: row.comment,
      fingerprint: row.fingerprint,
      createdAt: row.created_at,
    }));
  }

  async remove(address: string, fingerprint: string): Promise<boolean> {
    const parsed = tryParseAddress(address);
    if (!parsed) return false;
    const removed = await this.db.count(
      'DELETE FROM ssh_keys WHERE fingerprint = $2 AND user_id = (SELECT id FROM users WHERE address = $1)',
      [parsed.address, fingerprint],
    );
    return removed > 0;
  }
}
