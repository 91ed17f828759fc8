import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SERVE_NODE_OPTIONS, SERVE_V8_FLAGS, tuneHeapForServing } from '../../src/cli/heap.js';

describe('serve heap settings', () => {
  it('sets the V8 flags for serving', () => {
    const set: string[] = [];
    assert.deepEqual(tuneHeapForServing({}, (f) => set.push(f)), SERVE_V8_FLAGS);
    assert.deepEqual(set, SERVE_V8_FLAGS);
  });

  it('leaves V8 alone with WHARF_V8_DEFAULT_HEAP=1', () => {
    const set: string[] = [];
    assert.deepEqual(tuneHeapForServing({ WHARF_V8_DEFAULT_HEAP: '1' }, (f) => set.push(f)), []);
    assert.deepEqual(set, []);
  });

  it('npm start runs serve with the Node options the benchmarks use', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts.start, `node ${SERVE_NODE_OPTIONS.join(' ')} dist/src/cli/main.js serve`);
  });
});
