import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { destroyAfterGrace } from '../../src/net/shutdown-deadline.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('destroyAfterGrace', () => {
  it('destroys a connection still open when the grace period ends, not before', async () => {
    let destroyed = 0;
    destroyAfterGrace(new Promise(() => {}), 100, () => destroyed++);
    await sleep(40);
    assert.equal(destroyed, 0);
    await sleep(150);
    assert.equal(destroyed, 1);
  });

  it('leaves alone a connection that closed on its own, or whose close failed', async () => {
    let destroyed = 0;
    let close!: () => void;
    destroyAfterGrace(new Promise<void>((r) => (close = r)), 60, () => destroyed++);
    destroyAfterGrace(Promise.reject(new Error('gone')), 60, () => destroyed++);
    close();
    await sleep(150);
    assert.equal(destroyed, 0);
  });
});
