/**
 * Fixed-window event counters (rate limits: login failures, connections per client address),
 * shared by every node. Windows are timed by the database's clock (now()), the one clock
 * every node agrees on; counting is one statement, so concurrent hits from several nodes
 * each get their own count. Expired rows are dropped now and then while counting, so names
 * that are never seen again do not pile up.
 */
import { checkCounterArgs } from '../normalize.js';
import type { Database } from './db.js';

/** Expired counters are pruned at most this often (per store instance). */
const PRUNE_EVERY_MS = 60_000;

export class Counters {
  private lastPrune = 0;

  constructor(private readonly db: Database) {}

  async hit(name: string, windowMs: number): Promise<number> {
    checkCounterArgs(name, windowMs);
    if (Date.now() - this.lastPrune >= PRUNE_EVERY_MS) {
      this.lastPrune = Date.now();
      await this.db.count('DELETE FROM counters WHERE expires_at <= now()');
    }
    // An expired window starts again at 1; a live one counts on.
    const row = await this.db.one<{ count: number }>(
      `INSERT INTO counters (name, count, expires_at)
       VALUES ($1, 1, now() + make_interval(secs => $2::double precision / 1000))
       ON CONFLICT (name) DO UPDATE SET
         count = CASE WHEN counters.expires_at <= now() THEN 1 ELSE counters.count + 1 END,
         expires_at = CASE WHEN counters.expires_at <= now() THEN excluded.expires_at ELSE counters.expires_at END
       RETURNING count`,
      [name, Math.ceil(windowMs)],
    );
    return row!.count;
  }

  async peek(name: string): Promise<number> {
    checkCounterArgs(name);
    const row = await this.db.one<{ count: number }>('SELECT count FROM counters WHERE name = $1 AND expires_at > now()', [
      name,
    ]);
    return row?.count ?? 0;
  }

  async reset(name: string): Promise<void> {
    checkCounterArgs(name);
    await this.db.count('DELETE FROM counters WHERE name = $1', [name]);
  }
}
