/**
 * Named leases with an expiry (e.g. the POP3 maildrop lock). Times are wall-clock
 * milliseconds: every process sharing an SQLite file runs on the same host and clock.
 */
import { StoreError } from '../types.js';
import type { Db } from './schema.js';
import type { WriteQueue } from './write-queue.js';

function checkArgs(name: string, owner: string, ttlMs?: number): void {
  if (typeof name !== 'string' || name.length === 0) throw new StoreError('invalid', 'lease name is empty');
  if (typeof owner !== 'string' || owner.length === 0) throw new StoreError('invalid', 'lease owner is empty');
  if (ttlMs !== undefined && (!Number.isFinite(ttlMs) || ttlMs <= 0)) {
    throw new StoreError('invalid', `invalid lease ttl: ${ttlMs}`);
  }
}

export class Leases {
  private readonly stmts;

  constructor(
    db: Db,
    private readonly queue: WriteQueue,
  ) {
    this.stmts = {
      // Takes the lease if absent, expired, or already ours (re-acquiring renews it).
      acquire: db.prepare(
        `INSERT INTO leases (name, owner, expires_at) VALUES (@name, @owner, @now + @ttl)
         ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
         WHERE leases.expires_at <= @now OR leases.owner = excluded.owner`,
      ),
      // An expired lease cannot be renewed: its holder must assume someone else may have it.
      renew: db.prepare(`UPDATE leases SET expires_at = @now + @ttl
         WHERE name = @name AND owner = @owner AND expires_at > @now`),
      release: db.prepare('DELETE FROM leases WHERE name = ? AND owner = ?'),
    };
  }

  async acquire(name: string, owner: string, ttlMs: number): Promise<boolean> {
    checkArgs(name, owner, ttlMs);
    return this.queue.run(() => {
      return this.stmts.acquire.run({ name, owner, now: Date.now(), ttl: Math.ceil(ttlMs) }).changes > 0;
    });
  }

  async renew(name: string, owner: string, ttlMs: number): Promise<boolean> {
    checkArgs(name, owner, ttlMs);
    return this.queue.run(() => {
      return this.stmts.renew.run({ name, owner, now: Date.now(), ttl: Math.ceil(ttlMs) }).changes > 0;
    });
  }

  async release(name: string, owner: string): Promise<void> {
    checkArgs(name, owner);
    return this.queue.run(() => {
      this.stmts.release.run(name, owner);
    });
  }
}
