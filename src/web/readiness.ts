/**
 * Whether this node should be sent work: not while it starts, not once it drains after
 * SIGTERM, and otherwise only while its store answers. What /readyz reports.
 */
import type { Logger } from '../net/types.js';
import type { Store } from '../store/types.js';

export type ReadinessPhase = 'starting' | 'serving' | 'draining';

/** The part of the store readiness needs. */
export type HealthCheckedStore = Pick<Store, 'checkHealth'>;

/** A store check that takes longer than this counts as failed: a load balancer must get an answer. */
export const STORE_CHECK_TIMEOUT_MS = 2_000;

/** Not ready; the message is the reason, shown on /readyz. */
export class NotReady extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'NotReady';
  }
}

export class Readiness {
  private phase: ReadinessPhase = 'starting';
  private store: HealthCheckedStore | null = null;
  /** One store check at a time, shared by every probe that arrives while it runs. */
  private pending: Promise<void> | null = null;
  /** Reason of the last failed store check; null while they pass (state changes are logged once). */
  private failing: string | null = null;

  constructor(
    private readonly log: Logger,
    private readonly checkTimeoutMs = STORE_CHECK_TIMEOUT_MS,
  ) {}

  get current(): ReadinessPhase {
    return this.phase;
  }

  /** Every listener is up: ready whenever the store answers. Draining is final. */
  serving(store: HealthCheckedStore): void {
    if (this.phase === 'draining') return;
    this.store = store;
    this.phase = 'serving';
  }

  /** From now on not ready, whatever the store says. */
  drain(): void {
    this.phase = 'draining';
  }

  /** Resolves when the node should get work; rejects with NotReady saying why not. */
  async check(): Promise<void> {
    if (this.phase !== 'serving' || !this.store) throw new NotReady(this.phase);
    this.pending ??= this.checkStore(this.store).finally(() => {
      this.pending = null;
    });
    await this.pending;
    // Draining may have begun while the store was answering.
    if (this.phase !== 'serving') throw new NotReady(this.phase);
  }

  private async checkStore(store: HealthCheckedStore): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        store.checkHealth(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${this.checkTimeoutMs} ms`)), this.checkTimeoutMs);
        }),
      ]);
    } catch (err) {
      const reason = `store: ${err instanceof Error ? err.message : String(err)}`;
      if (this.failing !== reason) this.log.warn('not ready', { reason });
      this.failing = reason;
      throw new NotReady(reason);
    } finally {
      clearTimeout(timer);
    }
    if (this.failing !== null) this.log.info('ready again', { after: this.failing });
    this.failing = null;
  }
}
