/**
 * Every fuzz target for a short fixed budget from its corpus (same seed every run, so a failure
 * here reproduces with `npm run fuzz -- TARGET --seed 20260` ...), every saved regression input
 * replayed, and the engine itself shown to catch a broken invariant, a thrown error and a hang.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { regressionFiles, runOne, runTarget } from '../../fuzz/engine/runner.js';
import { check, type FuzzTarget } from '../../fuzz/engine/types.js';
import { TARGETS } from '../../fuzz/targets/index.js';

/** Per target; the whole file stays well under 30 s on a busy two-core machine. */
const BUDGET_MS = 1200;
const MAX_RUNS = 400;
const SEED = 20260;

describe('fuzz targets', () => {
  for (const target of TARGETS) {
    it(`${target.name}: generated and mutated inputs keep every invariant`, async () => {
      const stats = await runTarget(target, { runs: MAX_RUNS, seed: SEED, timeLimitMs: BUDGET_MS, keepGoing: true, log: () => {} });
      const first = stats.failures[0];
      assert.equal(stats.failures.length, 0, first && `${first.kind}: ${first.message}\ninput: ${JSON.stringify(first.input.toString('latin1').slice(0, 500))}`);
      assert.ok(stats.executions >= 20, `only ${stats.executions} inputs ran`);
      assert.ok(stats.generated > 0, 'no generated inputs');
      assert.ok(stats.corpusSize > 0, `no seed corpus in fuzz/corpus/${target.name}/`);
    });
  }

  const regressions = TARGETS.flatMap((t) => regressionFiles(t.name).map((file) => ({ target: t, file })));
  it('has regression inputs to replay', () => {
    assert.ok(regressions.length >= 3, `${regressions.length} regression inputs`);
  });
  for (const { target, file } of regressions) {
    it(`${target.name}: regression ${basename(file)} passes`, async () => {
      const outcome = await runOne(target, readFileSync(file), undefined, 5000);
      assert.equal(typeof outcome, 'number', 'the input did not finish within 5 s');
      assert.ok((outcome as number) < 1000, `the input took ${String(outcome)} ms`);
    });
  }
});

describe('fuzz engine', () => {
  const toy = (run: FuzzTarget['run']): FuzzTarget => ({
    name: 'toy',
    description: 'test target',
    generator: fc.string({ maxLength: 8 }).map((s) => ({ bytes: Buffer.from(s) })),
    run,
  });

  it('reports a broken invariant with the input that broke it', async () => {
    const target = toy((bytes) => check(!bytes.includes(0x7b), 'brace seen'));
    const stats = await runTarget({ ...target, generator: fc.constant({ bytes: Buffer.from('a{b') }) }, { runs: 50, seed: 1, log: () => {} });
    assert.equal(stats.crashes, 1);
    assert.match(stats.failures[0].message, /brace seen/);
    assert.ok(stats.failures[0].input.includes(0x7b));
  });

  it('finds a failure only mutation reaches (a NUL byte the generator never makes)', async () => {
    const target = toy((bytes) => {
      if (bytes.includes(0)) throw new TypeError('NUL');
    });
    const stats = await runTarget({ ...target, generator: fc.constant({ bytes: Buffer.from('abc') }) }, { runs: 20_000, seed: 3, log: () => {} });
    assert.equal(stats.crashes, 1);
    assert.match(stats.failures[0].message, /TypeError: NUL/);
    assert.ok(stats.mutated > 0);
  });

  it('reports an input that never finishes as a hang', async () => {
    const target = toy(() => new Promise(() => {}));
    const stats = await runTarget(target, { runs: 5, seed: 2, slowMs: 20, log: () => {} });
    assert.equal(stats.hangs, 1);
    assert.equal(stats.executions, 1);
  });
});
