/**
 * A cheap coverage signal without native instrumentation: V8's own block coverage, read
 * through node:inspector in this very process (Profiler.takePreciseCoverage). In binary mode
 * each take reports the blocks run since the previous one, so after every input we learn which
 * blocks of the server's code (dist/src) it reached; an input that reaches a block no earlier
 * input reached is kept as a base for further mutation. Costs about a millisecond per input.
 */
import inspector from 'node:inspector';

interface CoverageRange {
  startOffset: number;
  endOffset: number;
  count: number;
}
interface ScriptCoverage {
  url: string;
  functions: Array<{ ranges: CoverageRange[] }>;
}

export class CoverageTracker {
  private readonly session = new inspector.Session();
  private readonly seen = new Set<string>();

  constructor(private readonly scope: (url: string) => boolean) {
    this.session.connect();
    this.post('Profiler.enable');
    this.post('Profiler.startPreciseCoverage', { callCount: false, detailed: true });
    this.take();
  }

  /** Blocks ever reached. */
  get blocks(): number {
    return this.seen.size;
  }

  /** Reads what ran since the last call; returns how many blocks are new. */
  collect(): number {
    let fresh = 0;
    for (const script of this.take()) {
      if (!this.scope(script.url)) continue;
      for (const fn of script.functions) {
        for (const r of fn.ranges) {
          if (r.count === 0) continue;
          const key = `${script.url}:${r.startOffset}:${r.endOffset}`;
          if (!this.seen.has(key)) {
            this.seen.add(key);
            fresh++;
          }
        }
      }
    }
    return fresh;
  }

  stop(): void {
    this.post('Profiler.stopPreciseCoverage');
    this.session.disconnect();
  }

  private take(): ScriptCoverage[] {
    let result: ScriptCoverage[] = [];
    // A session in the same thread answers synchronously.
    this.session.post('Profiler.takePreciseCoverage', (err, res) => {
      if (!err) result = (res as unknown as { result: ScriptCoverage[] }).result;
    });
    return result;
  }

  private post(method: string, params?: object): void {
    this.session.post(method, params ?? {}, () => {});
  }
}
