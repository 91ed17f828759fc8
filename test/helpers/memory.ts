/**
 * Peak live memory while some work runs, for the tests that prove a large body streams through
 * instead of being held whole.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

/**
 * Runs `work` and resolves with its result and the highest growth of live JS heap plus
 * ArrayBuffer memory seen meanwhile, in bytes. Live memory, not garbage waiting for
 * collection: a collection runs before every sample, and V8 frees the memory of collected
 * Buffers on a background thread, so each sample waits a moment after it.
 */
export async function peakMemoryGrowth<T>(work: () => Promise<T>): Promise<{ result: T; peak: number }> {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  const before = process.memoryUsage();
  let peak = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
      const m = process.memoryUsage();
      peak = Math.max(peak, m.heapUsed + m.arrayBuffers - before.heapUsed - before.arrayBuffers);
      await new Promise((r) => setTimeout(r, 40));
    }
  })();
  try {
    return { result: await work(), peak };
  } finally {
    sampling = false;
    await sampler;
  }
}
