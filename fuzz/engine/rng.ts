/** A small seeded PRNG (xorshift128+ on 32-bit halves is overkill here: mulberry32 will do). */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

/** Cut points for feeding `length` bytes in pieces (streaming readers must not care where). */
export function splitPoints(rng: Rng, length: number): number[] {
  if (length <= 1 || rng.chance(0.3)) return [];
  const count = 1 + rng.int(Math.min(8, length - 1));
  const points = new Set<number>();
  for (let i = 0; i < count; i++) points.add(1 + rng.int(length - 1));
  return [...points].sort((a, b) => a - b);
}

export function splitAt(bytes: Buffer, points: readonly number[]): Buffer[] {
  const pieces: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    pieces.push(bytes.subarray(from, p));
    from = p;
  }
  pieces.push(bytes.subarray(from));
  return pieces;
}

/** A deterministic seed from the input bytes, so a saved crash replays with the same splits. */
export function seedOf(bytes: Buffer): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}
