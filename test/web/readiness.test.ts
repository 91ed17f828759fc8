/** Readiness: the phases, the store check (failing, hanging, shared between probes) and its log lines. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/net/log.js';
import { NotReady, Readiness, type HealthCheckedStore } from '../../src/web/readiness.js';

function recordingLog() {
  const records: Array<Record<string, unknown>> = [];
  const log = createLogger({ level: 'debug', write: (line) => records.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, records };
}

/** A store whose check the test controls: answers at once, fails, or waits for `release`. */
function fakeStore(behaviour: 'ok' | 'fail' | 'hang') {
  let calls = 0;
  let release: () => void = () => {};
  const store = {
    mode: behaviour,
    get calls() {
      return calls;
    },
    release: () => release(),
    checkHealth(): Promise<void> {
      calls++;
      if (store.mode === 'ok') return Promise.resolve();
      if (store.mode === 'fail') return Promise.reject(new Error('database is locked'));
      return new Promise<void>((resolve) => (release = resolve));
    },
  } satisfies HealthCheckedStore & Record<string, unknown>;
  return store;
}

async function reason(readiness: Readiness): Promise<string> {
  try {
    await readiness.check();
    return 'ready';
  } catch (err) {
    assert.ok(err instanceof NotReady, String(err));
    return err.message;
  }
}

describe('readiness', () => {
  it('is "starting" until serving, then asks the store, and "draining" for good once drained', async () => {
    const { log } = recordingLog();
    const readiness = new Readiness(log);
    const store = fakeStore('ok');
    assert.equal(await reason(readiness), 'starting');
    readiness.serving(store);
    assert.equal(await reason(readiness), 'ready');
    assert.equal(store.calls, 1);
    readiness.drain();
    assert.equal(await reason(readiness), 'draining');
    assert.equal(store.calls, 1, 'a draining node does not ask the store');
    readiness.serving(store);
    assert.equal(await reason(readiness), 'draining', 'draining is final');
  });

  it('reports the store error, logs the change once, and logs when it passes again', async () => {
    const { log, records } = recordingLog();
    const readiness = new Readiness(log);
    const store = fakeStore('fail');
    readiness.serving(store);
    assert.equal(await reason(readiness), 'store: database is locked');
    assert.equal(await reason(readiness), 'store: database is locked');
    assert.deepEqual(
      records.map((r) => [r.level, r.event, r.reason]),
      [['warn', 'not ready', 'store: database is locked']],
    );
    store.mode = 'ok';
    assert.equal(await reason(readiness), 'ready');
    assert.equal(await reason(readiness), 'ready');
    assert.deepEqual(
      records.slice(1).map((r) => [r.level, r.event]),
      [['info', 'ready again']],
    );
  });

  it('a store that does not answer counts as failed after the timeout', async () => {
    const { log } = recordingLog();
    const readiness = new Readiness(log, 50);
    const store = fakeStore('hang');
    readiness.serving(store);
    const started = Date.now();
    assert.equal(await reason(readiness), 'store: no answer within 50 ms');
    assert.ok(Date.now() - started < 1_000);
    store.release();
  });

  it('probes that arrive together share one store check', async () => {
    const { log } = recordingLog();
    const readiness = new Readiness(log);
    const store = fakeStore('hang');
    readiness.serving(store);
    const probes = Promise.all([reason(readiness), reason(readiness), reason(readiness)]);
    await new Promise((resolve) => setImmediate(resolve));
    store.release();
    assert.deepEqual(await probes, ['ready', 'ready', 'ready']);
    assert.equal(store.calls, 1);
  });

  it('a drain that starts while the store answers makes the probe "draining"', async () => {
    const { log } = recordingLog();
    const readiness = new Readiness(log);
    const store = fakeStore('hang');
    readiness.serving(store);
    const probe = reason(readiness);
    await new Promise((resolve) => setImmediate(resolve));
    readiness.drain();
    store.release();
    assert.equal(await probe, 'draining');
  });
});
