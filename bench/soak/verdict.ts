/**
 * When a soak fails. Memory and descriptors may rise while sessions open and caches fill
 * (the warm-up); after that they must level off. "Keeps growing" means both:
 *   - the last sample is more than GROWTH_LIMIT over the sample at the end of the warm-up, and
 *   - the last TREND_SAMPLES samples never went down (a steady climb, not one bump).
 * A heap that climbs and is collected back down passes; a leak fails. Separately: the event
 * loop's p99 delay must stay under 50 ms in every sample after the warm-up, and resident memory
 * under 800 MB in every sample.
 */
export interface Sample {
  /** Seconds since all sessions were open. */
  atSeconds: number;
  rssBytes: number;
  openFds: number;
  eventLoopDelayP99Ms: number;
}

export const LIMITS = {
  /** Growth allowed over the end-of-warm-up sample, as a fraction (memory). */
  rssGrowth: 0.1,
  /** Growth allowed for descriptors: a fraction, and at least this many. */
  fdGrowth: 0.01,
  fdGrowthMin: 50,
  trendSamples: 4,
  p99Ms: 50,
  rssBytes: 800 * 1024 * 1024,
};

/** True when the last `n` values never decrease. */
function climbing(values: number[], n: number): boolean {
  if (values.length < n) return false;
  const tail = values.slice(-n);
  return tail.every((v, i) => i === 0 || v >= tail[i - 1]!);
}

/** The reasons the soak failed; empty when it passed. `warmupSeconds`: samples before it only count for the RSS ceiling. */
export function judge(samples: Sample[], warmupSeconds: number): string[] {
  const failures: string[] = [];
  for (const s of samples) {
    if (s.rssBytes > LIMITS.rssBytes) {
      failures.push(`RSS ${mb(s.rssBytes)} at ${s.atSeconds} s is over ${mb(LIMITS.rssBytes)}`);
      break;
    }
  }
  const held = samples.filter((s) => s.atSeconds >= warmupSeconds);
  if (held.length < 2) {
    failures.push(`only ${held.length} sample(s) after the warm-up: too short to judge growth`);
    return failures;
  }
  const base = held[0]!;
  const last = held[held.length - 1]!;
  const rss = held.map((s) => s.rssBytes);
  if (last.rssBytes > base.rssBytes * (1 + LIMITS.rssGrowth) && climbing(rss, LIMITS.trendSamples)) {
    failures.push(`memory keeps growing: RSS ${mb(base.rssBytes)} at ${base.atSeconds} s, ${mb(last.rssBytes)} at ${last.atSeconds} s, rising in each of the last ${LIMITS.trendSamples} samples`);
  }
  const fds = held.map((s) => s.openFds);
  const fdSlack = Math.max(LIMITS.fdGrowthMin, base.openFds * LIMITS.fdGrowth);
  if (last.openFds > base.openFds + fdSlack && climbing(fds, LIMITS.trendSamples)) {
    failures.push(`descriptors keep growing: ${base.openFds} at ${base.atSeconds} s, ${last.openFds} at ${last.atSeconds} s`);
  }
  const slow = held.filter((s) => s.eventLoopDelayP99Ms > LIMITS.p99Ms);
  if (slow.length > 0) {
    failures.push(
      `event-loop p99 over ${LIMITS.p99Ms} ms in ${slow.length} of ${held.length} samples (worst ${Math.max(...slow.map((s) => s.eventLoopDelayP99Ms)).toFixed(1)} ms)`,
    );
  }
  return failures;
}

export function mb(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
