/**
 * The body words the PostgreSQL trigram index holds instead of the body: every body that
 * contains a needle must have words matching each of the needle's patterns, or search would
 * miss it (the whole body confirms afterwards, so narrowing too little is only slower).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bodyWordsOf, wordPatterns } from '../../src/store/postgres/body-words.js';

/** SQL LIKE with backslash escapes, as PostgreSQL evaluates it. */
function like(text: string, pattern: string): boolean {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') source += (pattern[++i] ?? '').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    else if (c === '%') source += '[\\s\\S]*';
    else if (c === '_') source += '[\\s\\S]';
    else source += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 'u').test(text);
}

describe('body words', () => {
  it('keeps each token once, between spaces', () => {
    assert.equal(bodyWordsOf('the cat\tand the\r\ndog  and\u00a0the cat.'), ' the cat and dog cat. ');
    assert.equal(bodyWordsOf(''), ' ');
    assert.equal(bodyWordsOf(' \r\n'), ' ');
  });

  it('anchors the parts of a needle where it has separators', () => {
    assert.deepEqual(wordPatterns('report'), ['%report%']);
    assert.deepEqual(wordPatterns('ly report'), ['% report%', '%ly %']);
    assert.deepEqual(wordPatterns('a big report'), ['% report%', '% big %', '%a %']);
    assert.deepEqual(wordPatterns(' x '), ['% x %']);
    assert.deepEqual(wordPatterns('   '), []);
    assert.deepEqual(wordPatterns('100%_\\'), ['%100\\%\\_\\\\%']);
    assert.equal(wordPatterns('a b c d e f').length, 4, 'a few patterns narrow enough');
  });

  it('matches every needle cut from a body (random bodies and cuts)', () => {
    const alphabet = ['a', 'b', 'ab', 'ba', 'é', '%', '_', '\\', '.', ' ', ' ', '\t', '\r\n', '\u00a0', '\u3000'];
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let round = 0; round < 2000; round++) {
      let body = '';
      const pieces = 1 + random(40);
      for (let i = 0; i < pieces; i++) body += alphabet[random(alphabet.length)];
      const words = bodyWordsOf(body);
      const start = random(body.length);
      const needle = body.slice(start, start + 1 + random(body.length - start));
      for (const pattern of wordPatterns(needle)) {
        assert.ok(like(words, pattern), `body ${JSON.stringify(body)} needle ${JSON.stringify(needle)} pattern ${JSON.stringify(pattern)} words ${JSON.stringify(words)}`);
      }
    }
  });

  it('narrows: a word the body does not have fails a pattern', () => {
    const words = bodyWordsOf('quarterly report attached');
    assert.ok(wordPatterns('weekly report').some((p) => !like(words, p)));
    assert.ok(wordPatterns('report').every((p) => like(words, p)));
  });
});
