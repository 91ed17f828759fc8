/**
 * The store's worker thread runs only while there is work: it starts when a message is posted,
 * stops when it says it is idle and nothing is on its way to it, and messages posted while it
 * stops reach the next thread.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BackgroundWorker, type WorkerMessage } from '../../src/store/sqlite/background-worker.js';
import { waitFor } from './helpers.js';

const SCRIPT = new URL('./fixtures-idle-worker.js', import.meta.url);

function make() {
  const worker = new BackgroundWorker(SCRIPT, null, 'test worker');
  const pongs: number[] = [];
  worker.onMessage((m: WorkerMessage) => {
    if (m.type === 'pong') pongs.push(m.id!);
  });
  let exits = 0;
  worker.onExit(() => exits++);
  return { worker, pongs, exits: () => exits };
}

describe('store background worker', () => {
  it('starts no thread until something is posted', async () => {
    const { worker } = make();
    assert.equal(worker.running, false);
    assert.equal(worker.stats.started, 0);
    await worker.stop();
  });

  it('stops an idle thread and starts another for the next message', async () => {
    const { worker, pongs, exits } = make();
    worker.post({ type: 'ping', id: 1 });
    assert.equal(worker.running, true);
    await waitFor(() => pongs.length === 1 && exits() === 1, 'the first thread to answer and stop');
    assert.equal(worker.running, false);
    worker.post({ type: 'ping', id: 2 });
    await waitFor(() => pongs.length === 2, 'the second answer');
    assert.equal(worker.stats.started, 2);
    await worker.stop();
    assert.deepEqual(pongs, [1, 2]);
  });

  it('keeps what is posted while the thread stops for the next thread', async () => {
    const { worker, pongs, exits } = make();
    worker.post({ type: 'ping', id: 1 });
    await waitFor(() => pongs.length === 1, 'the first answer');
    // The thread said it was idle with the ping, and now takes 150 ms to stop.
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(exits(), 0, 'still stopping');
    worker.post({ type: 'ping', id: 2 });
    await waitFor(() => pongs.length === 2, 'the message posted meanwhile to be answered', 5000);
    assert.equal(worker.stats.started, 2);
    await worker.stop();
  });

  it('does not stop a thread while a message is on its way to it, or someone waits for it', async () => {
    const { worker, pongs, exits } = make();
    worker.hold();
    worker.post({ type: 'ping', id: 1 });
    worker.post({ type: 'ping', id: 2 });
    worker.post({ type: 'ping', id: 3 });
    await waitFor(() => pongs.length === 3, 'three answers');
    // It said idle after each; the first two were not idle (more was on its way), the third
    // came while it was held.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(exits(), 0);
    assert.equal(worker.stats.started, 1);
    worker.release();
    worker.post({ type: 'ping', id: 4 });
    await waitFor(() => exits() === 1, 'the thread to stop once released');
    assert.equal(worker.stats.started, 1);
    await worker.stop();
  });
});
