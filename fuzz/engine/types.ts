/**
 * What a fuzz target is: a parser entry point driven with one input at a time, plus the
 * invariants that input must keep. A target throws on a violated invariant or on any error
 * the parser does not document; the engine records that input as a crash.
 */
import type fc from 'fast-check';

/** An input from a structure-aware generator, with what the target should find in it. */
export interface Generated<E = unknown> {
  bytes: Buffer;
  /** What a correct parser must produce from `bytes` (mutated inputs have none). */
  expect?: E;
}

export interface FuzzTarget<E = unknown> {
  name: string;
  /** One line for `npm run fuzz -- list` and the README. */
  description: string;
  /** Structure-aware inputs (fast-check). */
  generator: fc.Arbitrary<Generated<E>>;
  /** Byte strings the mutator likes to insert (keywords, delimiters of this grammar). */
  dictionary?: string[];
  /** Longest input the mutator makes; generators may go further. */
  maxInputBytes?: number;
  /** Runs one input; resolves when the parser is done with it. Throws on a violation. */
  run(bytes: Buffer, expect?: E): void | Promise<void>;
}

/** An invariant the parser broke (as opposed to an exception escaping from it). */
export class InvariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvariantError';
  }
}

export function check(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new InvariantError(typeof message === 'string' ? message : message());
}
