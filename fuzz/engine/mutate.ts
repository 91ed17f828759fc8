/**
 * Byte-level mutation of corpus inputs, in the manner of libFuzzer's default mutators: bit
 * flips, interesting bytes, insertions and deletions, repeats, splices with another input and
 * tokens of the target's grammar. A few mutations are stacked per input.
 */
import type { Rng } from './rng.js';

/** Bytes that end or open something in one of the protocols fuzzed here. */
const INTERESTING_BYTES = [0x0d, 0x0a, 0x00, 0xff, 0x7b, 0x7d, 0x22, 0x5c, 0x28, 0x29, 0x20, 0x2e, 0x3a, 0x3b, 0x3c, 0x3e, 0x40, 0x2c, 0x2a, 0x5b, 0x5d, 0x3d, 0x3f, 0x25, 0x2f, 0x80, 0xc0, 0xed, 0xf0, 0x7f, 0x09];
const INTERESTING_RUNS = ['\r\n', '\r\n.\r\n', '\r\n.', '..', '\n', '\r', '{', '}', '{0}\r\n', '{4294967296}\r\n', '{5+}\r\n', '""', '\\', '()', '((((', '))))', '%', '=?', '?=', '--', '\u0000', '\ud800', '9999999999', '4294967295', '0', '*', '$', '/../', '..\\'];

export function mutate(rng: Rng, input: Buffer, corpus: readonly Buffer[], dictionary: readonly string[], maxBytes: number): Buffer {
  let out: Buffer = Buffer.from(input);
  const rounds = 1 + rng.int(4);
  for (let r = 0; r < rounds; r++) out = mutateOnce(rng, out, corpus, dictionary);
  return out.length > maxBytes ? out.subarray(0, maxBytes) : out;
}

function mutateOnce(rng: Rng, b: Buffer, corpus: readonly Buffer[], dictionary: readonly string[]): Buffer {
  const pos = () => rng.int(b.length + 1);
  switch (rng.int(11)) {
    case 0: {
      // Bit flip.
      if (b.length === 0) return Buffer.from([rng.int(256)]);
      const i = rng.int(b.length);
      b[i] ^= 1 << rng.int(8);
      return b;
    }
    case 1: {
      // One byte set to an interesting value.
      if (b.length === 0) return Buffer.from([rng.pick(INTERESTING_BYTES)]);
      b[rng.int(b.length)] = rng.pick(INTERESTING_BYTES);
      return b;
    }
    case 2:
      // Interesting byte inserted.
      return insert(b, pos(), Buffer.from([rng.pick(INTERESTING_BYTES)]));
    case 3: {
      // Random bytes inserted.
      const n = 1 + rng.int(8);
      const bytes = Buffer.alloc(n);
      for (let i = 0; i < n; i++) bytes[i] = rng.int(256);
      return insert(b, pos(), bytes);
    }
    case 4: {
      // A range deleted.
      if (b.length === 0) return b;
      const from = rng.int(b.length);
      const len = 1 + rng.int(Math.min(16, b.length - from));
      return Buffer.concat([b.subarray(0, from), b.subarray(from + len)]);
    }
    case 5: {
      // A range repeated (long lines, deep nesting, many arguments).
      if (b.length === 0) return b;
      const from = rng.int(b.length);
      const len = 1 + rng.int(Math.min(32, b.length - from));
      const times = rng.chance(0.1) ? 100 + rng.int(2000) : 2 + rng.int(8);
      const piece = b.subarray(from, from + len);
      return insert(b, from, Buffer.concat(Array.from({ length: times - 1 }, () => piece)));
    }
    case 6: {
      // Splice: our head with another input's tail.
      if (corpus.length === 0) return b;
      const other = rng.pick(corpus);
      return Buffer.concat([b.subarray(0, pos()), other.subarray(rng.int(other.length + 1))]);
    }
    case 7:
      // A token of the target's grammar.
      if (dictionary.length === 0) return insert(b, pos(), Buffer.from(rng.pick(INTERESTING_RUNS), 'utf8'));
      return insert(b, pos(), Buffer.from(rng.pick(dictionary), 'utf8'));
    case 8:
      return insert(b, pos(), Buffer.from(rng.pick(INTERESTING_RUNS), 'utf8'));
    case 9: {
      // A decimal number replaced by an edge value.
      const text = b.toString('latin1');
      const numbers = [...text.matchAll(/[0-9]+/g)];
      if (numbers.length === 0) return b;
      const m = rng.pick(numbers);
      const edge = rng.pick(['0', '1', '255', '256', '1023', '65535', '65536', '4294967295', '4294967296', '9007199254740993', '99999999999999999999', String(rng.int(1 << 20))]);
      return Buffer.concat([b.subarray(0, m.index), Buffer.from(edge), b.subarray(m.index! + m[0].length)]);
    }
    default: {
      // Truncated.
      return b.subarray(0, pos());
    }
  }
}

function insert(b: Buffer, at: number, bytes: Buffer): Buffer {
  return Buffer.concat([b.subarray(0, at), bytes, b.subarray(at)]);
}
