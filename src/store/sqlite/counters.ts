/**
 * Fixed-window event counters (rate limits: login failures, connections per client address),
 * shared by every process using the file. Times are wall-clock milliseconds: every process
 * sharing an SQLite file runs on the same host and clock. Expired rows are dropped now and
 * then while counting, so names that are never seen again do not pile up.
 */
import { checkCounterArgs } from '../normalize.js';
import type { Db } from './schema.js';
import type { WriteQueue } from './write-queue.js';

/** Expired counters are pruned at most this often (per store instance). */
const PRUNE_EVERY_MS = 60_000;

export class Counters {
  private readonly stmts;
  private lastPrune = 0;

  constructor(
    db: Db,
    private readonly queue: WriteQueue,
  ) {
    this.stmts = {
      // An expired window starts again at 1; a live one counts on.
      hit: db
        .prepare(
          `INSERT INTO counters (name, count, expires_at) VALUES (@name, 1, @now + @window)
           ON CONFLICT (name) DO UPDATE SET
             count = CASE WHEN counters.expires_at <= @now THEN 1 ELSE counters.count + 1 END,
             expires_at = CASE WHEN counters.expires_at <= @now THEN excluded.expires_at ELSE counters.expires_at END
           RETURNING count`,
        )
        .pluck(),
      peek: db.prepare('SELECT count FROM counters WHERE name = ? AND expires_at > ?').pluck(),
      reset: db.prepare('DELETE FROM counters WHERE name = ?'),
      prune: db.prepare('DELETE FROM counters WHERE expires_at <= ?'),
    };
  }

  async hit(name: string, windowMs: number): Promise<number> {
    checkCounterArgs(name, windowMs);
    return this.queue.run(() => {
      const now = Date.now();
      if (now - this.lastPrune >= PRUNE_EVERY_MS) {
        this.lastPrune = now;
        this.stmts.prune.run(now);
      }
      return this.stmts.hit.get({ name, now, window: Math.ceil(windowMs) }) as number;
    });
  }

  async peek(name: string): Promise<number> {
    checkCounterArgs(name);
    return (this.stmts.peek.get(name, Date.now()) as number | undefined) ?? 0;
  }

  async reset(name: string): Promise<void> {
    checkCounterArgs(name);
    return this.queue.run(() => {
      this.stmts.reset.run(name);
    });
  }
}
