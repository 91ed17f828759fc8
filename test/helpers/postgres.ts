/**
 * Throwaway PostgreSQL databases for tests. The server is WHARF_TEST_DATABASE_URL (default:
 * the local server's maintenance database as user postgres); each database made here gets a
 * unique wharf_test_* name and is dropped again by its owner.
 *
 * When the server cannot be reached this fails with a message saying so: tests that need
 * PostgreSQL must fail, not skip, where it is missing (CI provides it).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const TEST_DATABASE_URL = process.env.WHARF_TEST_DATABASE_URL?.trim() || 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  name: string;
  /** Connection URL of the new database. */
  url: string;
  /** Drops the database, ending any connection still open to it. */
  drop(): Promise<void>;
}

/** The maintenance URL with its password hidden, for messages. */
function shown(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(an unparsable WHARF_TEST_DATABASE_URL)';
  }
}

/** The URL of database `name` on the same server as `url`. */
export function databaseUrl(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

/** Runs `fn` on a connection to the maintenance database; a clear error when there is no server. */
async function withMaintenance<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(
      `PostgreSQL is not reachable at ${shown(TEST_DATABASE_URL)}: ${(err as Error).message}. ` +
        'These tests need a PostgreSQL server (15 or newer, with pg_trgm); start one or point ' +
        'WHARF_TEST_DATABASE_URL at one.',
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Creates an empty database (optionally a copy of `template`, a database nobody is connected
 * to). Names are unique, so test files running in parallel never share one.
 */
export async function createTestDatabase(options: { template?: string } = {}): Promise<TestDatabase> {
  const name = `wharf_test_${randomBytes(6).toString('hex')}`;
  await withMaintenance((client) =>
    client.query(`CREATE DATABASE ${name}${options.template ? ` TEMPLATE ${pg.escapeIdentifier(options.template)}` : ''}`),
  );
  let dropped: Promise<void> | null = null;
  return {
    name,
    url: databaseUrl(TEST_DATABASE_URL, name),
    drop() {
      dropped ??= withMaintenance(async (client) => {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      });
      return dropped;
    },
  };
}

/** Runs SQL on database `url` (for tests that look at or tamper with what a store wrote). */
export async function queryDatabase<R extends pg.QueryResultRow = pg.QueryResultRow>(
  url: string,
  sql: string,
  values?: unknown[],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}
