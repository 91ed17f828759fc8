/**
 * The connection pool and the two ways the PostgreSQL store talks to it: single statements
 * (reads, and writes that are one statement) and transactions.
 *
 * A transaction collects the mailboxes it changed (touch); just before COMMIT it sends one
 * NOTIFY naming them, which PostgreSQL delivers to the other nodes only if the COMMIT
 * succeeds. After the COMMIT this node's own watchers are told directly, before the
 * operation's promise resolves, so a caller that awaited a change has already woken them.
 * synchronous_commit stays as the server has it (on by default): a resolved deliver or
 * append is durable.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { StoreError } from '../types.js';

/** The channel mailbox changes are announced on; the payload is "<node token> <id>,<id>...". */
export const CHANGE_CHANNEL = 'wharf_mailbox';

/** NOTIFY payloads must stay under 8000 bytes; longer lists of mailboxes are split. */
const MAX_PAYLOAD = 7000;

/** A transaction that lost a deadlock or a serialisation conflict is run again, this often. */
const MAX_ATTEMPTS = 5;

/** SQLSTATEs: retry the transaction. */
const RETRYABLE = new Set(['40001', '40P01']);

/** OID of bigint[] (pg's builtins list only scalar types). */
const INT8_ARRAY = 1016;

/** BIGINT (and BIGINT[]) comes back as numbers: ids, counters and byte counts stay far below 2^53. */
const TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (format !== 'binary') {
      if (oid === pg.types.builtins.INT8) return (text: string) => Number(text);
      if (oid === INT8_ARRAY) {
        const lookup = pg.types.getTypeParser as (oid: number, format: 'text') => (text: string) => unknown;
        const parseArray = lookup(INT8_ARRAY, 'text') as (text: string) => Array<string | null>;
        return (text: string) => parseArray(text).map((v) => (v === null ? null : Number(v)));
      }
    }
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/**
 * No Wharf transaction waits on anything but the database, so one idle this long belongs to
 * a stuck node: the server ends it rather than let its row locks hold every other node up.
 */
const IDLE_IN_TRANSACTION_MS = 60_000;

export function createPool(url: string, max: number): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    types: TYPES,
    application_name: 'wharf',
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS,
    // A database host that vanishes without closing the connections is noticed.
    keepAlive: true,
  });
  // An idle pooled connection that breaks (server restart, pg_terminate_backend) must not
  // crash the process: the pool drops it and opens another when needed.
  pool.on('error', (err) => process.emitWarning(`store: idle database connection failed: ${err.message}`));
  return pool;
}

/** Client options for a connection outside the pool (the listener, migrations). */
export function clientConfig(url: string): pg.ClientConfig {
  return { connectionString: url, types: TYPES, application_name: 'wharf' };
}

/** Turns the database's refusals that mean something to callers into StoreErrors. */
export function translateError(err: unknown): unknown {
  const code = (err as { code?: unknown }).code;
  if (err instanceof StoreError || typeof code !== 'string') return err;
  const message = (err as Error).message;
  if (code === '23505') return new StoreError('conflict', message); // unique_violation
  if (code === '23503') return new StoreError('not-found', message); // foreign_key_violation
  // A NUL character, a value out of range or too long for an index: the input was not valid.
  if (code === '22021' || code === '22P05' || code === '22003' || code === '22P02' || code === '54000') {
    return new StoreError('invalid', message);
  }
  return err;
}

export interface Queryable {
  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

const statementNames = new Map<string, string>();

/**
 * A transaction's statement as a named prepared statement: PostgreSQL then parses and plans
 * it once per connection instead of at every delivery (an unnamed statement is parsed and
 * planned each time). Every SQL text here is a constant (values travel as parameters), so
 * the names stay few.
 */
function prepared(text: string, values: unknown[]): pg.QueryConfig {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `wharf_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
    statementNames.set(text, name);
  }
  return { name, text, values };
}

/** What an operation can do inside its transaction. */
export class Tx {
  readonly touched = new Set<number>();
  readonly callbacks: Array<() => void> = [];

  constructor(private readonly client: pg.PoolClient) {}

  async rows<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]> {
    return (await this.run<R>(text, values)).rows;
  }

  async one<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R | undefined> {
    return (await this.run<R>(text, values)).rows[0];
  }

  async count(text: string, values?: unknown[]): Promise<number> {
    return (await this.run(text, values)).rowCount ?? 0;
  }

  private run<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    return values === undefined ? this.client.query<R>(text) : this.client.query<R>(prepared(text, values));
  }

  /** Marks a mailbox as changed: its watchers everywhere are told once this commits. */
  touch(mailboxId: number): void {
    this.touched.add(mailboxId);
  }

  /** Runs after the commit succeeded (e.g. to update in-memory state mirroring the database). */
  afterCommit(fn: () => void): void {
    this.callbacks.push(fn);
  }
}

export class Database {
  private closed = false;
  /** Operations started and not yet settled: close() waits for them. */
  private readonly inflight = new Set<Promise<unknown>>();

  constructor(
    readonly pool: pg.Pool,
    /** Identifies this store instance in NOTIFY payloads (its own are not news to it). */
    private readonly token: string,
    /** Told after every commit which mailboxes it touched. */
    private readonly onCommitted: (touched: ReadonlySet<number>) => void,
  ) {}

  /** One statement, in its own implicit transaction. */
  rows<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]> {
    return this.track(async () => {
      try {
        return (await this.pool.query<R>(text, values)).rows;
      } catch (err) {
        throw translateError(err);
      }
    });
  }

  async one<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R | undefined> {
    return (await this.rows<R>(text, values))[0];
  }

  /**
   * One statement as a named prepared statement (parsed once per connection, see prepared):
   * for the few run on every message outside a transaction (a recipient's lookup, the
   * indexer's batch). Only for statements whose plan does not depend on the values: after a
   * few runs PostgreSQL may keep one generic plan for them.
   */
  preparedOne<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<R | undefined> {
    return this.track(async () => {
      try {
        return (await this.pool.query<R>(prepared(text, values))).rows[0];
      } catch (err) {
        throw translateError(err);
      }
    });
  }

  async count(text: string, values?: unknown[]): Promise<number> {
    return this.track(async () => {
      try {
        return (await this.pool.query(text, values)).rowCount ?? 0;
      } catch (err) {
        throw translateError(err);
      }
    });
  }

  /**
   * Runs `fn` in a transaction and resolves with its result once COMMIT returned. Deadlocks
   * and serialisation failures run `fn` again from the start (it must not keep state from a
   * failed attempt); other errors roll back and reject.
   */
  transaction<T>(fn: (tx: Tx) => Promise<T>, mode: 'write' | 'snapshot' = 'write'): Promise<T> {
    return this.track(async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.attempt(fn, mode);
        } catch (err) {
          const code = (err as { code?: unknown }).code;
          if (attempt < MAX_ATTEMPTS && typeof code === 'string' && RETRYABLE.has(code)) continue;
          throw translateError(err);
        }
      }
    });
  }

  /** Resolves once every operation started so far (and any they started) has settled. */
  async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  /** Refuses new operations and closes the pool's connections. */
  async end(): Promise<void> {
    this.closed = true;
    await this.pool.end();
  }

  /** Counts an operation as in flight until it settles (close() waits for it). */
  track<T>(run: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    const operation = run();
    this.inflight.add(operation);
    const forget = () => this.inflight.delete(operation);
    operation.then(forget, forget);
    return operation;
  }

  private async attempt<T>(fn: (tx: Tx) => Promise<T>, mode: 'write' | 'snapshot'): Promise<T> {
    const client = await this.pool.connect();
    let broken: unknown = null;
    // A checked-out client has no pool listener: a connection the server ends between two
    // statements (a restart, pg_terminate_backend) would emit 'error' unheard and crash the
    // process. Heard here, it fails this transaction and the pool discards the connection.
    const onError = (err: Error) => {
      broken = err;
    };
    client.on('error', onError);
    try {
      await client.query(mode === 'snapshot' ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN');
      const tx = new Tx(client);
      let result: T;
      try {
        result = await fn(tx);
        if (tx.touched.size > 0) await this.announce(client, tx.touched);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch((rollbackErr: unknown) => {
          broken = rollbackErr;
        });
        throw err;
      }
      for (const callback of tx.callbacks) {
        try {
          callback();
        } catch (err) {
          process.emitWarning(`store: afterCommit callback failed: ${String(err)}`);
        }
      }
      if (tx.touched.size > 0) this.onCommitted(tx.touched);
      return result;
    } finally {
      client.off('error', onError);
      // A connection whose ROLLBACK failed (or that broke) is in an unknown state: the pool
      // must not reuse it.
      client.release(broken instanceof Error ? broken : undefined);
    }
  }

  /** Inside the transaction: NOTIFY the touched mailboxes (delivered on COMMIT only). */
  private async announce(client: pg.PoolClient, touched: ReadonlySet<number>): Promise<void> {
    let ids: string[] = [];
    const send = async () => {
      await client.query(prepared('SELECT pg_notify($1, $2)', [CHANGE_CHANNEL, `${this.token} ${ids.join(',')}`]));
      ids = [];
    };
    let length = 0;
    for (const id of touched) {
      const text = String(id);
      if (ids.length > 0 && length + text.length + 1 > MAX_PAYLOAD) {
        await send();
        length = 0;
      }
      ids.push(text);
      length += text.length + 1;
    }
    if (ids.length > 0) await send();
  }
}
