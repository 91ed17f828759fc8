/**
 * Open things counted per key (a client address; a user and an address), each until its
 * release: the connection caps of the listeners and IMAP's per-user cap share this one count.
 */
export class OpenCounts {
  private readonly byKey = new Map<string, number>();
  private all = 0;

  /** Open under every key together. */
  get total(): number {
    return this.all;
  }

  /** Open under `key`. */
  get(key: string): number {
    return this.byKey.get(key) ?? 0;
  }

  /** Counts one more under `key`; the function returned uncounts it (calling it again does nothing). */
  add(key: string): () => void {
    this.all++;
    this.byKey.set(key, this.get(key) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.all--;
      const left = this.get(key) - 1;
      if (left <= 0) this.byKey.delete(key);
      else this.byKey.set(key, left);
    };
  }
}
