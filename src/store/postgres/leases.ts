/**
 * Named leases with an expiry (e.g. the POP3 maildrop lock). Expiry is computed and checked
 * with the database's clock (now()), the one clock every node sharing the store agrees on;
 * each operation is one statement, so taking over an expired lease is atomic.
 */
import { StoreError } from '../types.js';
import type { Database } from './db.js';

function checkArgs(name: string, owner: string, ttlMs?: number): void {
  if (typeof name !== 'string' || name.length === 0) throw new StoreError('invalid', 'lease name is empty');
  if (typeof owner !== 'string' || owner.length === 0) throw new StoreError('invalid', 'lease owner is empty');
  if (ttlMs !== undefined && (!Number.isFinite(ttlMs) || ttlMs <= 0)) {
    throw new StoreError('invalid', `invalid lease ttl: ${ttlMs}`);
  }
}

/** now() + $3 milliseconds. */
const EXPIRY = `now() + make_interval(secs => $3::double precision / 1000)`;

export class Leases {
  constructor(private readonly db: Database) {}

  async acquire(name: string, owner: string, ttlMs: number): Promise<boolean> {
    checkArgs(name, owner, ttlMs);
    // Takes the lease if absent, expired, or already ours (re-acquiring renews it).
    const taken = await this.db.count(
      `INSERT INTO leases (name, owner, expires_at) VALUES ($1, $2, ${EXPIRY})
       ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
       WHERE leases.expires_at <= now() OR leases.owner = excluded.owner`,
      [name, owner, Math.ceil(ttlMs)],
    );
    return taken > 0;
  }

  async renew(name: string, owner: string, ttlMs: number): Promise<boolean> {
    checkArgs(name, owner, ttlMs);
    // An expired lease cannot be renewed: its holder must assume someone else may have it.
    const renewed = await this.db.count(
      `UPDATE leases SET expires_at = ${EXPIRY} WHERE name = $1 AND owner = $2 AND expires_at > now()`,
      [name, owner, Math.ceil(ttlMs)],
    );
    return renewed > 0;
  }

  async release(name: string, owner: string): Promise<void> {
    checkArgs(name, owner);
    await this.db.count('DELETE FROM leases WHERE name = $1 AND owner = $2', [name, owner]);
  }
}
