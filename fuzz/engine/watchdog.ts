/**
 * A worker thread that watches the fuzz loop: an input that keeps the main thread busy (a
 * synchronous endless loop cannot be interrupted from inside) is written to the crash folder
 * and the process is killed, so the hang is never lost.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { workerData } from 'node:worker_threads';

interface WatchdogData {
  /** [0] = 1 while an input runs, [1] = its start (ms), [2] = its length in bytes. */
  state: SharedArrayBuffer;
  input: SharedArrayBuffer;
  hardLimitMs: number;
  crashDir: string;
}

const data = workerData as WatchdogData;
const state = new BigInt64Array(data.state);
const input = new Uint8Array(data.input);

setInterval(() => {
  if (Atomics.load(state, 0) !== 1n) return;
  const started = Number(Atomics.load(state, 1));
  if (Date.now() - started < data.hardLimitMs) return;
  const length = Number(Atomics.load(state, 2));
  mkdirSync(data.crashDir, { recursive: true });
  const file = join(data.crashDir, `hang-${Date.now()}.bin`);
  writeFileSync(file, input.subarray(0, length));
  process.stderr.write(`\nHANG: one input ran for over ${data.hardLimitMs} ms; written to ${file}; killing the fuzzer\n`);
  process.kill(process.pid, 'SIGKILL');
}, 250);
