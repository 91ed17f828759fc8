/**
 * Sessions kept open between messages, and the limit of concurrent connections per
 * destination. A destination (a key such as "mx1.example.com:25") has at most `maxPerKey`
 * connections, in use or idle. An idle session is handed to the next message for the same
 * destination (RSET first: the caller's business) and closed with QUIT after `idleMs`
 * without one. A caller above the limit waits for a connection to come back.
 */
import type { SmtpClientSession } from './session.js';

interface IdleEntry<S> {
  session: S;
  timer: NodeJS.Timeout;
  stopWatching: () => void;
}

interface Destination<S> {
  /** Connections in use, or being opened, for this key. */
  busy: number;
  idle: Array<IdleEntry<S>>;
  waiters: Array<() => void>;
}

export interface PoolOptions {
  maxPerKey: number;
  /** How long an idle session stays open. */
  idleMs: number;
}

/** What `acquire` gives: an idle session to reuse, or a slot in which to open a new one. */
export interface Lease<S> {
  key: string;
  session: S | null;
}

/** The part of a session the pool needs (tests use lighter stand-ins). */
export type PoolableSession = Pick<SmtpClientSession, 'alive' | 'quit'> & {
  conn: { onClose(listener: () => void): () => void };
};

export class SessionPool<S extends PoolableSession> {
  private readonly destinations = new Map<string, Destination<S>>();
  private closing = false;

  constructor(private readonly opts: PoolOptions) {}

  /**
   * An idle session for `key` that `suits` accepts, or a slot to open a new one. Idle sessions
   * that do not suit are closed when their slot is needed. Waits while the key is at its
   * limit; rejects when `signal` aborts or the pool closes.
   */
  async acquire(key: string, suits: (session: S) => boolean, signal?: AbortSignal): Promise<Lease<S>> {
    for (;;) {
      if (this.closing) throw new Error('connection pool closed');
      const dest = this.destination(key);
      if (signal?.aborted) {
        // We may have been woken for room we now leave: pass it on.
        this.wake(dest);
        this.forget(key, dest);
        throw signal.reason ?? new Error('aborted');
      }
      const index = dest.idle.findIndex((e) => e.session.alive && suits(e.session));
      if (index >= 0) {
        const [entry] = dest.idle.splice(index, 1);
        this.unidle(entry);
        dest.busy++;
        return { key, session: entry.session };
      }
      if (dest.busy + dest.idle.length < this.opts.maxPerKey) {
        dest.busy++;
        return { key, session: null };
      }
      if (dest.idle.length > 0) {
        // At the limit with only unsuitable idle sessions: close one to make room.
        const entry = dest.idle.shift()!;
        this.unidle(entry);
        void entry.session.quit();
        dest.busy++;
        return { key, session: null };
      }
      await this.waitForRoom(dest, signal);
    }
  }

  /**
   * Gives a lease back: the session is kept idle when `reusable` (else the caller has closed
   * it or must), and the slot is free for the next caller either way.
   */
  release(lease: Lease<S>, session: S | null, reusable: boolean): void {
    const dest = this.destination(lease.key);
    dest.busy = Math.max(0, dest.busy - 1);
    if (session && reusable && session.alive && !this.closing) {
      const entry: IdleEntry<S> = {
        session,
        timer: setTimeout(() => this.expire(lease.key, entry), this.opts.idleMs),
        // A server that hangs up on an idle connection frees its slot at once.
        stopWatching: session.conn.onClose(() => this.expire(lease.key, entry)),
      };
      entry.timer.unref();
      dest.idle.push(entry);
    } else if (session && reusable) {
      void session.quit();
    }
    this.wake(dest);
    this.forget(lease.key, dest);
  }

  /** Connections per key, in use and idle (for tests and logs). */
  stats(key: string): { busy: number; idle: number } {
    const dest = this.destinations.get(key);
    return { busy: dest?.busy ?? 0, idle: dest?.idle.length ?? 0 };
  }

  /** QUITs every idle session; sessions in use are closed by their callers on release. */
  async close(): Promise<void> {
    this.closing = true;
    const quits: Array<Promise<void>> = [];
    for (const dest of this.destinations.values()) {
      for (const entry of dest.idle.splice(0)) {
        this.unidle(entry);
        quits.push(entry.session.quit());
      }
      for (const wake of dest.waiters.splice(0)) wake();
    }
    await Promise.all(quits);
  }

  private destination(key: string): Destination<S> {
    let dest = this.destinations.get(key);
    if (!dest) {
      dest = { busy: 0, idle: [], waiters: [] };
      this.destinations.set(key, dest);
    }
    return dest;
  }

  private forget(key: string, dest: Destination<S>): void {
    if (dest.busy === 0 && dest.idle.length === 0 && dest.waiters.length === 0) this.destinations.delete(key);
  }

  private expire(key: string, entry: IdleEntry<S>): void {
    const dest = this.destinations.get(key);
    const index = dest ? dest.idle.indexOf(entry) : -1;
    if (!dest || index < 0) return;
    dest.idle.splice(index, 1);
    this.unidle(entry);
    void entry.session.quit();
    this.wake(dest);
    this.forget(key, dest);
  }

  private unidle(entry: IdleEntry<S>): void {
    clearTimeout(entry.timer);
    entry.stopWatching();
  }

  private wake(dest: Destination<S>): void {
    dest.waiters.shift()?.();
  }

  private waitForRoom(dest: Destination<S>, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const i = dest.waiters.indexOf(wake);
        if (i >= 0) dest.waiters.splice(i, 1);
        reject(signal!.reason ?? new Error('aborted'));
      };
      const wake = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      dest.waiters.push(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
