/** A counting semaphore: at most `size` holders at once, waiters served in order. */
export class Slots {
  private used = 0;
  private readonly waiting: Array<{ grant(): void }> = [];

  constructor(private readonly size: number) {}

  get inUse(): number {
    return this.used;
  }

  /** Resolves once a slot is held (release it with `release`); rejects when `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.used < this.size) {
      this.used++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  release(): void {
    const next = this.waiting.shift();
    // The slot passes straight to the next waiter.
    if (next) next.grant();
    else this.used--;
  }
}
