/**
 * Peak live memory while some work runs, for the tests that prove a large body streams through
 * instead of being held whole.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

/**
 * Runs `work` and resolves with its result and the highest growth of live JS heap plus
 * ArrayBuffer memory seen meanwhile, in bytes. Live memory, not garbage waiting for
 * collection: two collections run right before every sample (see below).
 */
export async function peakMemoryGrowth<T>(work: () => Promise<T>): Promise<{ result: T; peak: number }> {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  gc();
  const before = process.memoryUsage();
  let peak = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      // The second collection first finishes the freeing the first one left to a background
      // thread, so the sample right after it counts only live memory. A pause between
      // collection and sample would count whatever the work allocated meanwhile: on a loaded
      // machine a 10 ms timer fires tens of milliseconds late, and a stream at hundreds of
      // MB/s leaves that many megabytes of garbage.
      gc();
      gc();
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
