import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { batchedStdoutWriter, createLogger } from '../../src/net/log.js';

function sink(): { out: Writable; writes: string[] } {
  const writes: string[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      writes.push(chunk.toString());
      cb();
    },
  });
  return { out, writes };
}

describe('log lines', () => {
  it('go out in one write per event-loop turn, in order', async () => {
    const { out, writes } = sink();
    const log = createLogger({ write: batchedStdoutWriter(out) });
    log.info('first', { n: 1 });
    log.warn('second', { password: 'hunter2' });
    assert.equal(writes.length, 0, 'nothing is written before the turn ends');
    await nextTurn();
    await nextTurn();
    assert.equal(writes.length, 1);
    const lines = writes[0]!.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines.map((l) => l.event), ['first', 'second']);
    assert.equal(lines[1]!.password, '[redacted]');
  });

  it('redact secret-named fields at every depth', () => {
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l) }).child({ session: 's1', token: 'tok-1' });
    log.info('nested', {
      login: { user: 'bob', password: 'pw-1', sasl: [{ authPayload: 'AHBheQ==' }] },
      error: new Error('boom'),
      count: 3,
    });
    const record = JSON.parse(lines[0]!) as Record<string, any>;
    assert.equal(record.token, '[redacted]');
    assert.deepEqual(record.login, { user: 'bob', password: '[redacted]', sasl: [{ authPayload: '[redacted]' }] });
    assert.equal(record.error, 'boom');
    assert.equal(record.count, 3);
    assert.ok(!lines[0]!.includes('pw-1') && !lines[0]!.includes('tok-1') && !lines[0]!.includes('AHBheQ'));
  });

  it('are written at once when a turn piles up more than 64 KiB', () => {
    const { out, writes } = sink();
    const write = batchedStdoutWriter(out);
    const line = 'x'.repeat(1023) + '\n';
    for (let i = 0; i < 64; i++) write(line);
    assert.equal(writes.length, 1);
    assert.equal(writes[0]!.length, 64 * 1024);
  });

  it('still buffered when the process exits are not lost', () => {
    const logModule = fileURLToPath(new URL('../../src/net/log.js', import.meta.url));
    const script = `import(${JSON.stringify(logModule)}).then((m) => { m.createLogger().info('last words', { n: 7 }); process.exit(3); });`;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.equal(child.status, 3);
    const record = JSON.parse(child.stdout.trim()) as Record<string, unknown>;
    assert.equal(record.event, 'last words');
    assert.equal(record.n, 7);
  });
});
