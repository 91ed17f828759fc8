/**
 * The fastify app over a real socket: what it answers for unknown paths and failing routes,
 * and what reaches the log (through the bridge to Wharf's logger) — never headers, query
 * strings or an internal error's message in the answer.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/net/log.js';
import { buildWebApp } from '../../src/web/server.js';

describe('web app', () => {
  it('404 and 500 answers say nothing about the request or the failure; the log names method and path only', async () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', write: (line) => lines.push(line), fields: { nodeId: 'n1' } });
    const app = buildWebApp({ nodeId: 'n1', readiness: { check: async () => {} }, log, logLevel: 'debug' });
    // A plugin that fails, as a future one might.
    app.get('/broken', async () => {
      throw new Error('table users is corrupt');
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      const headers = { authorization: 'Bearer top-secret-bearer', cookie: 'session=top-secret-cookie' };

      const missing = await fetch(`${base}/nope?token=top-secret-query`, { headers });
      assert.equal(missing.status, 404);
      assert.deepEqual(await missing.json(), { error: 'not found' });

      const broken = await fetch(`${base}/broken?token=top-secret-query`, { headers });
      assert.equal(broken.status, 500);
      assert.deepEqual(await broken.json(), { error: 'internal error' });

      const health = await fetch(`${base}/healthz`);
      assert.deepEqual(await health.json(), { status: 'ok', nodeId: 'n1' });

      const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      const failure = records.find((r) => r.event === 'request failed');
      assert.ok(failure, lines.join(''));
      assert.equal(failure.level, 'error');
      assert.equal(failure.method, 'GET');
      assert.equal(failure.path, '/broken');
      assert.equal(failure.error, 'table users is corrupt');
      assert.equal(failure.nodeId, 'n1');
      assert.ok(records.some((r) => r.event === 'request completed' && r.status === 404 && r.level === 'debug'));
      assert.equal(lines.join('').includes('top-secret'), false, lines.join(''));
    } finally {
      await app.close();
    }
  });

  it("fastify's own info lines go out at debug, so an info-level log is not flooded by probes", async () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'info', write: (line) => lines.push(line) });
    const app = buildWebApp({ nodeId: 'n1', readiness: { check: async () => {} }, log, logLevel: 'info' });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      for (let i = 0; i < 3; i++) assert.equal((await fetch(`${base}/readyz`)).status, 200);
      assert.deepEqual(lines, []);
    } finally {
      await app.close();
    }
  });
});
