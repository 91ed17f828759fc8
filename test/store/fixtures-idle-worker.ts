/**
 * A stand-in for the store's worker thread (background-worker.test.ts): answers 'ping' with
 * 'pong', says it is idle after every message, and takes a while to stop, so a test can post
 * while it is on its way out.
 */
import { parentPort } from 'node:worker_threads';

let received = 0;
parentPort?.on('message', (message: { type: string; id?: number }) => {
  received++;
  if (message.type === 'ping') parentPort?.postMessage({ type: 'pong', id: message.id });
  if (message.type === 'stop') {
    setTimeout(() => parentPort?.close(), 150);
    return;
  }
  parentPort?.postMessage({ type: 'idle', received });
});
