/**
 * Mailbox change notifications across nodes, through LISTEN/NOTIFY.
 *
 * Every committing transaction that changed mailboxes sends one NOTIFY (db.ts) naming them
 * and the store instance that made the change; PostgreSQL delivers it on COMMIT to every
 * listening session. Each store keeps one dedicated connection LISTENing (not a pooled one:
 * a LISTEN belongs to its session). Changes made by this store instance are announced to its
 * own watchers directly after the commit, so its own notifications are skipped here.
 *
 * Notifications sent while the listening connection is down are lost. So a dropped
 * connection is re-opened (with back-off), and once it listens again every watched
 * mailbox's subscribers are called once: they catch up through changesSince.
 */
import pg from 'pg';
import type { MailboxWatch } from '../types.js';
import { CHANGE_CHANNEL, clientConfig } from './db.js';

/** The listening connection's application_name (visible in pg_stat_activity). */
export const LISTENER_APPLICATION_NAME = 'wharf-listener';

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 5_000;

type Subscribers = Set<() => void>;

export class Watchers {
  private readonly watched = new Map<number, Subscribers>();
  private client: pg.Client | null = null;
  private closed = false;
  private retryMs = FIRST_RETRY_MS;
  private retryTimer: NodeJS.Timeout | null = null;
  /** Counters for tests and monitoring. */
  readonly stats = { reconnects: 0 };

  constructor(
    private readonly url: string,
    /** This store instance's token: notifications carrying it were already delivered locally. */
    private readonly token: string,
  ) {}

  /** Opens the listening connection; rejects if the database cannot be reached. */
  start(): Promise<void> {
    return this.connect();
  }

  watch(mailboxId: number, onChange: () => void): MailboxWatch {
    let subscribers = this.watched.get(mailboxId);
    if (!subscribers) {
      subscribers = new Set();
      this.watched.set(mailboxId, subscribers);
    }
    // Wrapped so the same function can be registered twice and closed independently.
    const subscriber = () => onChange();
    subscribers.add(subscriber);
    let closed = false;
    return {
      close: () => {
        if (closed) return;
        closed = true;
        const current = this.watched.get(mailboxId);
        if (!current) return;
        current.delete(subscriber);
        if (current.size === 0) this.watched.delete(mailboxId);
      },
    };
  }

  /** After a commit by this store instance: wakes the watchers of the mailboxes it touched. */
  notifyLocal(mailboxIds: Iterable<number>): void {
    for (const id of mailboxIds) this.fire(id);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.watched.clear();
    const client = this.client;
    this.client = null;
    if (client) await client.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      ...clientConfig(this.url),
      application_name: LISTENER_APPLICATION_NAME,
      keepAlive: true,
    });
    this.client = client;
    client.on('notification', (message) => this.onNotification(message.payload));
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, null));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGE_CHANNEL}`);
    } catch (err) {
      if (this.client === client) this.client = null;
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.closed) await client.end().catch(() => undefined);
  }

  private onNotification(payload: string | undefined): void {
    if (!payload) return;
    const space = payload.indexOf(' ');
    if (space < 0 || payload.slice(0, space) === this.token) return;
    for (const id of payload.slice(space + 1).split(',')) {
      const mailboxId = Number(id);
      if (Number.isSafeInteger(mailboxId)) this.fire(mailboxId);
    }
  }

  /** The listening connection failed or ended: open another unless the store is closing. */
  private lost(client: pg.Client, err: Error | null): void {
    if (this.client !== client) return;
    this.client = null;
    client.end().catch(() => undefined);
    if (this.closed) return;
    process.emitWarning(`store: lost the database connection that listens for changes${err ? `: ${err.message}` : ''}`);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.retryTimer || this.closed) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect().then(
        () => {
          if (this.closed) return;
          this.retryMs = FIRST_RETRY_MS;
          this.stats.reconnects++;
          // Whatever changed while nobody listened went unannounced: every watcher looks.
          for (const id of [...this.watched.keys()]) this.fire(id);
        },
        () => this.scheduleReconnect(),
      );
    }, delay);
    // A server has its listeners to keep it alive; a retry alone must not.
    this.retryTimer.unref();
  }

  private fire(mailboxId: number): void {
    const subscribers = this.watched.get(mailboxId);
    if (!subscribers) return;
    for (const subscriber of [...subscribers]) {
      try {
        subscriber();
      } catch (err) {
        process.emitWarning(`store: mailbox watcher threw: ${String(err)}`);
      }
    }
  }
}
