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
  /** Functions ever run, by script and start offset. */
  private readonly functions = new Set<string>();
  /** Per function: blocks once reported as not run, and which of those have run since. */
  private readonly blocks = new Map<string, { unrun: Array<[number, number]>; reached: Set<string> }>();
  private reachedCount = 0;

  constructor(private readonly scope: (url: string) => boolean) {
    this.session.connect();
    this.post('Profiler.enable');
    this.post('Profiler.startPreciseCoverage', { callCount: false, detailed: true });
    this.take();
  }

  /** Functions and blocks ever reached. */
  get blocksReached(): number {
    return this.functions.size + this.reachedCount;
  }

  /**
   * Reads what ran since the last call; returns how much of it is new. V8's binary block
   * coverage lists, for each function that ran, the blocks inside it that did not (a block that
   * ran is merged into its parent's range). So a block is known to have run once a later input
   * runs its function without listing it among the unrun ones.
   */
  collect(): number {
    let fresh = 0;
    for (const script of this.take()) {
      if (!this.scope(script.url)) continue;
      for (const fn of script.functions) {
        const [whole, ...inner] = fn.ranges;
        if (!whole || whole.count === 0) continue;
        const key = `${script.url}:${whole.startOffset}`;
        if (!this.functions.has(key)) {
          this.functions.add(key);
          fresh++;
        }
        const unrunNow = inner.filter((r) => r.count === 0).map((r): [number, number] => [r.startOffset, r.endOffset]);
        let state = this.blocks.get(key);
        if (!state) {
          state = { unrun: [], reached: new Set() };
          this.blocks.set(key, state);
        }
        for (const [s, e] of state.unrun) {
          const id = `${s}:${e}`;
          if (state.reached.has(id)) continue;
          if (!unrunNow.some(([zs, ze]) => zs <= s && e <= ze)) {
            state.reached.add(id);
            this.reachedCount++;
            fresh++;
          }
        }
        for (const [s, e] of unrunNow) {
          if (!state.unrun.some(([us, ue]) => us === s && ue === e)) state.unrun.push([s, e]);
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
