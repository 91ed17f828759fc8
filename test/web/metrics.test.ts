/**
 * GET /metrics over a real socket: the figures a soak or a monitoring agent reads — memory,
 * open descriptors, the event loop's delay since the previous read, sessions per service —
 * and that each of them moves when the process does.
 */
import assert from 'node:assert/strict';
import { closeSync, openSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../src/net/log.js';
import { buildWebApp } from '../../src/web/server.js';

interface Metrics {
  rssBytes: number;
  heapUsedBytes: number;
  openFds: number | null;
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
  windowMs: number;
  sessions: Record<string, number>;
}

/** Keeps the event loop busy, as a synchronous hot spot in a session handler would. */
function block(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // spin
  }
}

describe('GET /metrics', () => {
  it('reports memory, descriptors, event-loop delay per window and sessions per service', async () => {
    const log = createLogger({ level: 'error', write: () => {} });
    let imapSessions = 3;
    const app = buildWebApp({
      nodeId: 'n1',
      readiness: { check: async () => {} },
      log,
      logLevel: 'error',
      sessions: () => ({ imap: imapSessions, smtp: 0 }),
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/metrics`;
    const read = async (): Promise<Metrics> => {
      const res = await fetch(url);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      return (await res.json()) as Metrics;
    };
    const opened: number[] = [];
    try {
      const first = await read();
      assert.ok(first.rssBytes > 10 * 1024 * 1024, `rss ${first.rssBytes}`);
      assert.ok(first.heapUsedBytes > 0 && first.heapUsedBytes < first.rssBytes);
      assert.deepEqual(first.sessions, { imap: 3, smtp: 0 });

      // Descriptors: 25 more files open are 25 more descriptors counted (Linux /proc).
      if (process.platform === 'linux') {
        assert.ok(typeof first.openFds === 'number' && first.openFds > 0);
        const before = (await read()).openFds!;
        for (let i = 0; i < 25; i++) opened.push(openSync('/dev/null', 'r'));
        const during = (await read()).openFds!;
        assert.ok(during - before >= 25 && during - before <= 35, `fds ${before} -> ${during}`);
      }

      // Event loop: a 150 ms stall shows in the window that holds it, and not in the next one.
      await sleep(50);
      await read(); // a fresh window
      await sleep(50);
      block(150);
      await sleep(50);
      const stalled = await read();
      assert.ok(stalled.eventLoopDelayMaxMs >= 120, `max ${stalled.eventLoopDelayMaxMs}`);
      assert.ok(stalled.eventLoopDelayP99Ms >= 120, `p99 ${stalled.eventLoopDelayP99Ms}`);
      assert.ok(stalled.windowMs >= 200 && stalled.windowMs < 30_000, `window ${stalled.windowMs}`);
      await sleep(200);
      const calm = await read();
      assert.ok(calm.eventLoopDelayMaxMs < stalled.eventLoopDelayMaxMs, `calm ${calm.eventLoopDelayMaxMs} after ${stalled.eventLoopDelayMaxMs}`);
      assert.ok(calm.windowMs < stalled.windowMs + 5_000);

      imapSessions = 7;
      assert.equal((await read()).sessions.imap, 7);
    } finally {
      for (const fd of opened) closeSync(fd);
      await app.close();
    }
  });
});
