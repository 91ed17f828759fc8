import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { baseSubject } from '../../../src/imap/protocol/base-subject.js';
import { formatThreads, type ThreadMessage, threadOrderedSubject, threadReferences } from '../../../src/imap/protocol/thread.js';

describe('base subject (RFC 5256 2.1)', () => {
  const cases: Array<[string, string, boolean]> = [
    ['Hello', 'Hello', false],
    ['Re: Hello', 'Hello', true],
    ['RE:  Re:re:Hello', 'Hello', true],
    ['Fwd: Hello', 'Hello', true],
    ['FW: Hello', 'Hello', true],
    ['Re[2]: Hello', 'Hello', true],
    ['[list] Re: Hello', 'Hello', true],
    ['Re: [list] Hello', 'Hello', true],
    ['[list]', '[list]', false],
    ['[a][b] Hello', 'Hello', false],
    ['Hello (fwd)', 'Hello', true],
    ['Hello (FWD) (fwd)  ', 'Hello', true],
    ['[Fwd: Re: Hello]', 'Hello', true],
    ['[fwd: [fwd: Hello (fwd)]]', 'Hello', true],
    ['  Hello\t\tworld  ', 'Hello world', false],
    ['Hello\r\n world', 'Hello world', false],
    ['Re:', '', true],
    ['', '', false],
    ['Reply: me', 'Reply: me', false],
    ['Ref: x', 'Ref: x', false],
  ];
  for (const [raw, base, reply] of cases) {
    it(`${JSON.stringify(raw)} -> ${JSON.stringify(base)}`, () => {
      assert.deepEqual(baseSubject(raw), { subject: base, isReplyOrForward: reply });
    });
  }
});

let clock = 0;
function msg(id: number, fields: Partial<ThreadMessage> = {}): ThreadMessage {
  return { id, messageId: `<${id}@x>`, inReplyTo: null, references: null, subject: `s${id}`, date: ++clock * 1000, ...fields };
}

describe('THREAD=REFERENCES', () => {
  it('builds the RFC 5256 example shape (3 6 (4 23)(44 7 96))', () => {
    const threads = threadReferences([
      msg(3, { subject: 'gewehr' }),
      msg(6, { references: '<3@x>', subject: 'Re: gewehr' }),
      msg(4, { references: '<3@x> <6@x>', subject: 'Re: gewehr' }),
      msg(23, { references: '<3@x> <6@x> <4@x>', subject: 'Re: gewehr' }),
      msg(44, { inReplyTo: '<6@x>', subject: 'Re: gewehr' }),
      msg(7, { references: '<3@x>\r\n <6@x> <44@x>', subject: 'Re: gewehr' }),
      msg(96, { references: '<3@x> <6@x> <44@x> <7@x>', subject: 'Re: gewehr' }),
    ]);
    assert.equal(formatThreads(threads), '(3 6 (4 23)(44 7 96))');
  });

  it('keeps a dummy root for siblings whose parent is missing', () => {
    const threads = threadReferences([msg(1, { references: '<gone@x>' }), msg(2, { references: '<gone@x>' })]);
    assert.deepEqual(threads, [{ id: null, children: [{ id: 1, children: [] }, { id: 2, children: [] }] }]);
    assert.equal(formatThreads(threads), '((1)(2))');
  });

  it('promotes a lone child of a missing message, and splices out inner dummies', () => {
    assert.equal(formatThreads(threadReferences([msg(5, { references: '<gone@x>' })])), '(5)');
    const threads = threadReferences([msg(1), msg(2, { references: '<1@x> <gone@x>' }), msg(3, { references: '<1@x> <gone@x>' })]);
    assert.equal(formatThreads(threads), '(1 (2)(3))');
  });

  it('groups roots by base subject: a reply goes under the original', () => {
    const threads = threadReferences([msg(1, { subject: 'Lunch', messageId: null }), msg(2, { subject: 'Re: lunch', messageId: null })]);
    assert.equal(formatThreads(threads), '(1 2)');
  });

  it('makes same-subject non-replies siblings under a dummy', () => {
    const threads = threadReferences([msg(1, { subject: 'News' }), msg(2, { subject: 'Other' }), msg(3, { subject: 'news' })]);
    assert.equal(formatThreads(threads), '((1)(3))(2)');
  });

  it('puts a same-subject message under an existing dummy thread', () => {
    const threads = threadReferences([
      msg(1, { references: '<gone@x>', subject: 'Re: Plan' }),
      msg(2, { references: '<gone@x>', subject: 'Re: Plan' }),
      msg(3, { subject: 'Plan' }),
    ]);
    assert.equal(formatThreads(threads), '((1)(2)(3))');
  });

  it('does not group empty subjects', () => {
    assert.equal(formatThreads(threadReferences([msg(1, { subject: '' }), msg(2, { subject: 'Re:' })])), '(1)(2)');
  });

  it('sorts siblings and threads by sent date, ties and unknown dates by mailbox order', () => {
    const threads = threadReferences([
      msg(1, { date: 100 }),
      msg(2, { references: '<1@x>', date: 300 }),
      msg(3, { references: '<1@x>', date: 200 }),
      msg(4, { date: 50 }),
      msg(5, { date: 50 }),
    ]);
    assert.equal(formatThreads(threads), '(4)(5)(1 (3)(2))');
  });

  it('survives reference loops and duplicate Message-IDs', () => {
    const threads = threadReferences([
      msg(1, { references: '<2@x>' }),
      msg(2, { references: '<1@x>' }),
      msg(3, { messageId: '<1@x>', references: '<3@x>' }),
      msg(4, { references: '<4@x>' }),
    ]);
    const ids = formatThreads(threads).match(/[0-9]+/g)?.map(Number).sort((a, b) => a - b);
    assert.deepEqual(ids, [1, 2, 3, 4]);
  });

  it('believes a message over the parent its references guessed for it', () => {
    // 3 claims 1 -> 2 -> 3, but 2 itself says it answers 9.
    const threads = threadReferences([msg(1), msg(3, { references: '<1@x> <2@x>' }), msg(9), msg(2, { inReplyTo: '<9@x>' })]);
    assert.equal(formatThreads(threads), '(1)(9 2 3)');
  });
});

describe('THREAD=ORDEREDSUBJECT', () => {
  it('threads by base subject, first message the parent, threads by first date', () => {
    const threads = threadOrderedSubject([
      msg(1, { subject: 'b', date: 30 }),
      msg(2, { subject: 'a', date: 20 }),
      msg(3, { subject: 'Re: b', date: 10 }),
      msg(4, { subject: 'RE: A', date: 40 }),
      msg(5, { subject: 'Fwd: b', date: 50 }),
      msg(6, { subject: 'c', date: 5 }),
    ]);
    assert.equal(formatThreads(threads), '(6)(3 (1)(5))(2 4)');
  });
});

describe('thread formatting', () => {
  it('writes chains flat and branches in parentheses', () => {
    const tree = [
      { id: 1, children: [{ id: 2, children: [] }] },
      { id: 3, children: [{ id: 4, children: [] }, { id: 5, children: [{ id: 6, children: [] }] }] },
      { id: null, children: [{ id: 7, children: [] }, { id: 8, children: [] }] },
    ];
    assert.equal(formatThreads(tree), '(1 2)(3 (4)(5 6))((7)(8))');
    assert.equal(formatThreads([]), '');
  });
});
