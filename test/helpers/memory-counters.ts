/**
 * The store's shared counters (CoordinationStore.hitCounter/peekCounter/resetCounter) in memory,
 * on a clock the test moves, so throttling can be tested without waiting. Same fixed-window
 * rule as the contract: a window starts with the first hit after the previous one ended.
 */
import type { CoordinationStore } from '../../src/store/types.js';

export class MemoryCounters implements Pick<CoordinationStore, 'hitCounter' | 'peekCounter' | 'resetCounter'> {
  private readonly counters = new Map<string, { count: number; endsAt: number }>();

  constructor(public now: () => number = Date.now) {}

  private live(name: string) {
    const c = this.counters.get(name);
    if (c && this.now() >= c.endsAt) {
      this.counters.delete(name);
      return undefined;
    }
    return c;
  }

  async hitCounter(name: string, windowMs: number): Promise<number> {
    const c = this.live(name) ?? { count: 0, endsAt: this.now() + windowMs };
    c.count++;
    this.counters.set(name, c);
    return c.count;
  }

  async peekCounter(name: string): Promise<number> {
    return this.live(name)?.count ?? 0;
  }

  async resetCounter(name: string): Promise<void> {
    this.counters.delete(name);
  }

  /** Counters currently alive. */
  get size(): number {
    for (const name of [...this.counters.keys()]) this.live(name);
    return this.counters.size;
  }
}

/** A clock for tests: starts at `start`, moves only when told. */
export function testClock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}
