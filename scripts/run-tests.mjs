#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with node's built-in test runner.
// Node 20's runner takes no globs, so the files are listed here. Arguments narrow the run to
// files whose path contains one of them: `npm test -- smtp pop3`.
//
// Two passes: everything on SQLite, then the service and integration suites again on
// PostgreSQL (WHARF_TEST_STORE=postgres: each store or server gets a throwaway database).
// The store's own suites run both backends in the first pass. When PostgreSQL cannot be
// reached the PostgreSQL half is left out with a loud warning — unless
// WHARF_TEST_REQUIRE_POSTGRES=1 (CI sets it), which makes that a failure.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const testDir = path.join(root, 'dist', 'test');
const DATABASE_URL = process.env.WHARF_TEST_DATABASE_URL?.trim() || 'postgres://postgres@127.0.0.1:5432/postgres';

/** Suites whose store comes from test/helpers/test-store.ts, run again on PostgreSQL. */
const BOTH_BACKENDS = ['/imap/', '/pop3/', '/smtp/', '/integration/', '/auth/', '/web/', '/ftp/', '/sftp/'];
/** Files that exercise PostgreSQL itself (they need it in the first pass too). */
const NEEDS_POSTGRES = ['/store/postgres', '/cli/store-copy-postgres', '/integration/multinode', '/integration/database-restart', '/integration/store-copy-postgres'];

/**
 * Files that test this process's own disk writes (injected disk faults, the fsync oracle):
 * on PostgreSQL the database server writes the data, so they run on SQLite only.
 */
const SQLITE_ONLY = ['/integration/faults-disk', '/integration/durability-oracle'];

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...walk(full));
    else if (name.endsWith('.test.js')) out.push(full);
  }
  return out;
}

/** Files that restart or stop the shared PostgreSQL server: run alone, after everything else. */
const EXCLUSIVE = ['/integration/database-restart'];

function runFiles(files, env, concurrency = 2) {
  if (files.length === 0) return 0;
  const result = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...files], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, ...env },
  });
  return result.status ?? 1;
}

async function postgresReachable() {
  try {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 3000 });
    await client.connect();
    await client.end();
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

function banner(lines) {
  const width = Math.max(...lines.map((l) => l.length)) + 4;
  const bar = '!'.repeat(width);
  process.stderr.write(`\n${bar}\n${lines.map((l) => `! ${l.padEnd(width - 4)} !`).join('\n')}\n${bar}\n\n`);
}

const filters = process.argv.slice(2);
const files = walk(testDir)
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files found under dist/test (did the build run?)');
  process.exit(1);
}

const unreachable = await postgresReachable();
const requirePostgres = process.env.WHARF_TEST_REQUIRE_POSTGRES === '1';
if (unreachable) {
  banner([
    `PostgreSQL is not reachable at ${DATABASE_URL.replace(/:[^:@/]*@/, ':***@')}:`,
    unreachable,
    requirePostgres
      ? 'WHARF_TEST_REQUIRE_POSTGRES=1: that is a failure.'
      : 'The PostgreSQL half of the suite is NOT being run (set WHARF_TEST_DATABASE_URL).',
  ]);
  if (requirePostgres) process.exit(1);
}

const usable = files.filter((f) => !unreachable || !NEEDS_POSTGRES.some((p) => f.includes(p)));
const exclusive = usable.filter((f) => EXCLUSIVE.some((p) => f.includes(p)));
const shared = usable.filter((f) => !exclusive.includes(f));
let status = runFiles(shared, { WHARF_TEST_STORE: 'sqlite' });
if (!unreachable) {
  const again = shared.filter(
    (f) => BOTH_BACKENDS.some((p) => f.includes(p)) && !NEEDS_POSTGRES.some((p) => f.includes(p)) && !SQLITE_ONLY.some((p) => f.includes(p)),
  );
  if (again.length > 0) {
    process.stdout.write(`\n# the service and integration suites again, on PostgreSQL (${again.length} files)\n`);
    status = runFiles(again, { WHARF_TEST_STORE: 'postgres' }) || status;
  }
  status = runFiles(exclusive, { WHARF_TEST_STORE: 'sqlite' }, 1) || status;
}
process.exit(status);
