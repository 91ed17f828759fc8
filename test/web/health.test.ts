/**
 * The health endpoints of a real `wharf serve`, asked over HTTP the way a load balancer would:
 * with Node's fetch and with curl. Liveness stays 200 until the process exits; readiness is 503
 * from the moment SIGTERM starts the drain, and while the database is not the one expected.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { ENV_SETTINGS } from '../../src/config/load.js';
import { DATABASE_FILE } from '../../src/store/index.js';
import { LATEST_VERSION as LATEST_POSTGRES_VERSION } from '../../src/store/postgres/schema.js';
import { LATEST_SCHEMA_VERSION as LATEST_SQLITE_VERSION } from '../../src/store/sqlite/schema.js';
import { queryDatabase } from '../helpers/postgres.js';
import { processStoreEnv } from '../helpers/test-store.js';
import { cleanEnv, makeTempDir, removeDir, runWharf } from '../helpers/cli.js';
import { LineClient } from '../helpers/line-client.js';
import { runProgram, type ProgramResult } from '../helpers/process.js';
import { startWharf, type LogRecord, type WharfProcess } from '../helpers/wharf.js';
import { addBob } from '../integration/setup.js';

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function get(port: number, urlPath: string, method = 'GET'): Promise<Answer> {
  const res = await fetch(`http://127.0.0.1:${port}${urlPath}`, { method });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** `curl -fsS`: exit code 0 and the body on success, 22 and the status on standard error for >= 400. */
function curl(port: number, urlPath: string, ...extra: string[]): Promise<ProgramResult> {
  return runProgram('curl', ['-fsS', '--noproxy', '*', '--max-time', '10', ...extra, `http://127.0.0.1:${port}${urlPath}`]);
}

function parsedLogs(wharf: WharfProcess): LogRecord[] {
  return wharf.logs().map((line) => JSON.parse(line) as LogRecord);
}

describe('health endpoints of a running node', () => {
  let wharf: WharfProcess;
  let port: number;
  before(async () => {
    wharf = await startWharf({ env: { WHARF_NODE_ID: 'node-a.eu-1' } });
    port = wharf.ports.http!;
    assert.ok(port > 0, 'the http port is reported in a listening line');
  });
  after(async () => {
    assert.equal(await wharf.stop(), 0, wharf.stderr());
    await wharf.removeData();
  });

  it('/healthz: 200 with the node id, to fetch and to curl', async () => {
    const answer = await get(port, '/healthz');
    assert.equal(answer.status, 200);
    assert.match(answer.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(answer.headers.get('cache-control'), 'no-store');
    assert.deepEqual(answer.body, { status: 'ok', nodeId: 'node-a.eu-1' });

    const result = await curl(port, '/healthz');
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { status: 'ok', nodeId: 'node-a.eu-1' });
    // HEAD, which some load balancers use, answers like GET without a body.
    const head = await curl(port, '/healthz', '-I');
    assert.equal(head.code, 0, head.stderr);
    assert.match(head.stdout, /^HTTP\/1\.1 200 /);
  });

  it('/readyz: 200 once every service listens and the database answers', async () => {
    const answer = await get(port, '/readyz');
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get('cache-control'), 'no-store');
    assert.deepEqual(answer.body, { status: 'ready', nodeId: 'node-a.eu-1' });

    const result = await curl(port, '/readyz');
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { status: 'ready', nodeId: 'node-a.eu-1' });
  });

  it('any other path or method: 404', async () => {
    for (const urlPath of ['/', '/health', '/healthz/more', '/readyz.json', '/HEALTHZ']) {
      assert.equal((await get(port, urlPath)).status, 404, urlPath);
    }
    assert.equal((await get(port, '/readyz', 'POST')).status, 404, 'POST /readyz');
    const result = await curl(port, '/nothing-here');
    assert.equal(result.code, 22, 'curl -f fails on an HTTP error');
    assert.match(result.stderr, /404/);
  });

  it('every log line of the process names the node', async () => {
    await wharf.waitForLog((r) => r.event === 'listening' && r.service === 'http');
    const records = parsedLogs(wharf);
    assert.ok(records.length >= 9, 'starting, one listening per service, ready');
    for (const record of records) assert.equal(record.nodeId, 'node-a.eu-1', JSON.stringify(record));
  });

  it('is not ready while the database schema is not the one this node expects, and ready again after', async () => {
    // What another node upgrading the shared database looks like from here, on either backend.
    const url = (await processStoreEnv(wharf.dataDir)).WHARF_DATABASE_URL;
    const LATEST_SCHEMA_VERSION = url ? LATEST_POSTGRES_VERSION : LATEST_SQLITE_VERSION;
    const db = url ? null : new Database(path.join(wharf.dataDir, DATABASE_FILE));
    const addVersion = async (version: number) => {
      if (url) await queryDatabase(url, 'INSERT INTO schema_migrations (version) VALUES ($1)', [version]);
      else db!.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(version, Date.now());
    };
    const removeAbove = async (version: number) => {
      if (url) await queryDatabase(url, 'DELETE FROM schema_migrations WHERE version > $1', [version]);
      else db!.prepare('DELETE FROM schema_migrations WHERE version > ?').run(version);
    };
    try {
      await addVersion(LATEST_SCHEMA_VERSION + 1);
      const answer = await get(port, '/readyz');
      assert.equal(answer.status, 503);
      assert.equal(answer.body.status, 'unavailable');
      assert.equal(answer.body.nodeId, 'node-a.eu-1');
      assert.match(String(answer.body.reason), new RegExp(`^store: database schema version ${LATEST_SCHEMA_VERSION + 1} is newer`));
      const result = await curl(port, '/readyz');
      assert.equal(result.code, 22);
      assert.match(result.stderr, /503/);
      assert.equal((await get(port, '/healthz')).status, 200, 'the process is still alive');
      await wharf.waitForLog((r) => r.event === 'not ready' && r.level === 'warn');
      assert.equal(parsedLogs(wharf).filter((r) => r.event === 'not ready').length, 1, 'logged once, not per probe');
    } finally {
      await removeAbove(LATEST_SCHEMA_VERSION);
      db?.close();
    }
    assert.equal((await get(port, '/readyz')).status, 200);
    await wharf.waitForLog((r) => r.event === 'ready again');
  });
});

describe('node id', () => {
  it('without WHARF_NODE_ID: the host name and a random suffix, the same in the logs and the answers', async () => {
    const wharf = await startWharf();
    try {
      const { body } = await get(wharf.ports.http!, '/healthz');
      const host = os.hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 48) || 'localhost';
      assert.match(String(body.nodeId), new RegExp(`^${host.replace(/\./g, '\\.')}-[0-9a-f]{6}$`));
      for (const record of parsedLogs(wharf)) assert.equal(record.nodeId, body.nodeId);
    } finally {
      assert.equal(await wharf.stop(), 0, wharf.stderr());
      await wharf.removeData();
    }
  });
});

describe('draining after SIGTERM', () => {
  it('/readyz 503 "draining" while a session finishes, /healthz 200 until the process exits', async () => {
    const wharf = await startWharf({ env: { WHARF_NODE_ID: 'node-b' } });
    const port = wharf.ports.http!;
    try {
      await addBob(wharf);
      // A transaction in DATA holds the drain open: shutdown waits for it (up to the grace period).
      const smtp = await LineClient.connect(wharf.ports.smtp!);
      await smtp.line();
      await smtp.smtp('HELO crepes.fr');
      await smtp.smtp('MAIL FROM: <alice@crepes.fr>');
      assert.equal((await smtp.smtp('RCPT TO: <bob@hamburger.edu>')).code, 250);
      assert.equal((await smtp.smtp('DATA')).code, 354);
      smtp.send('Do you like ketchup?');
      assert.equal((await get(port, '/readyz')).status, 200, 'ready before the signal');

      const exit = wharf.stop('SIGTERM');
      await wharf.waitForLog((r) => r.event === 'shutting down');

      const ready = await get(port, '/readyz');
      assert.equal(ready.status, 503);
      assert.deepEqual(ready.body, { status: 'unavailable', nodeId: 'node-b', reason: 'draining' });
      const readyCurl = await curl(port, '/readyz');
      assert.equal(readyCurl.code, 22);
      assert.match(readyCurl.stderr, /503/);
      const plain = await runProgram('curl', ['-sS', '--noproxy', '*', `http://127.0.0.1:${port}/readyz`]);
      assert.deepEqual(JSON.parse(plain.stdout), { status: 'unavailable', nodeId: 'node-b', reason: 'draining' });

      const live = await get(port, '/healthz');
      assert.equal(live.status, 200);
      assert.deepEqual(live.body, { status: 'ok', nodeId: 'node-b' });
      const liveCurl = await curl(port, '/healthz');
      assert.equal(liveCurl.code, 0, liveCurl.stderr);
      assert.deepEqual(JSON.parse(liveCurl.stdout), { status: 'ok', nodeId: 'node-b' });

      smtp.send('How about pickles?');
      assert.equal((await smtp.smtp('.')).code, 250, 'the transaction in flight completes');
      assert.equal((await smtp.smtpReply()).code, 421);
      assert.equal(await exit, 0, wharf.stderr());
      await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'nothing listens once the process is gone');
    } finally {
      await wharf.stop('SIGKILL');
      await wharf.removeData();
    }
  });
});

describe('start-up', () => {
  it('the HTTP port in use: exit code 1 and a message naming http and the port', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    const dataDir = await makeTempDir('wharf-http-busy-');
    try {
      const env: Record<string, string> = { WHARF_DATA: dataDir };
      for (const s of ENV_SETTINGS) if (s.name.endsWith('_PORT')) env[s.name] = '0';
      env.WHARF_HTTP_PORT = String(port);
      const result = await runWharf(['serve'], { env: cleanEnv(env) });
      assert.equal(result.code, 1);
      assert.match(result.stderr, new RegExp(`^wharf: cannot listen for http on 127\\.0\\.0\\.1:${port}: the port is already in use\\n$`));
    } finally {
      blocker.close();
      await removeDir(dataDir);
    }
  });
});
