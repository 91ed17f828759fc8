/**
 * V8 heap settings for `wharf serve`, set from inside the process (so `npm start`, the
 * `wharf` bin and any other launcher get them) before the server's modules load.
 *
 * After each full collection V8 lets the old generation grow to a multiple of what survived
 * before collecting again; for a process allowed gigabytes of heap that multiple goes up to
 * 4, so a server with 40 MB of live objects may hold 100 MB and more of garbage between
 * collections (in the IMAP bench, 260 MiB resident after the mixed load). A server's resident
 * memory is what an operator sizes the machine by, so serve grows the heap by half of the
 * live size instead: a few more full collections, mostly marked concurrently (about 0.2 s
 * more collector time per 10 s of the mixed load), for tens of MB less.
 *
 * Not --optimize-for-size: it also saves memory, but changes more than the collector and
 * cost about 40% more CPU per IMAP operation in the same bench.
 *
 * WHARF_V8_DEFAULT_HEAP=1 leaves V8's defaults alone.
 */
import { setFlagsFromString } from 'node:v8';

export const SERVE_V8_FLAGS = ['--heap-growing-percent=50'];

/**
 * Node options `npm start` runs `wharf serve` with (package.json's start script), and the
 * benchmarks too. The young generation's size is fixed when V8 starts, so it cannot be set
 * from inside like SERVE_V8_FLAGS: V8's default lets it grow to 2 x 16 MiB and keep it, which
 * for a server holding thousands of idle sessions is a fifth of its resident memory. 2 MiB
 * semi-spaces measured 139 MiB resident with 1,000 IDLE sessions instead of 160, for a few per
 * cent more collector time. Another launcher passes the same, e.g.
 * NODE_OPTIONS=--max-semi-space-size=2.
 */
export const SERVE_NODE_OPTIONS = ['--max-semi-space-size=2'];

/** Sets SERVE_V8_FLAGS unless the environment opts out; returns the flags set. */
export function tuneHeapForServing(env: NodeJS.ProcessEnv = process.env, set: (flag: string) => void = setFlagsFromString): string[] {
  if (env.WHARF_V8_DEFAULT_HEAP === '1') return [];
  for (const flag of SERVE_V8_FLAGS) set(flag);
  return SERVE_V8_FLAGS;
}
