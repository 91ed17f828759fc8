/** The client's wire pieces on their own: reply parsing, EHLO extensions, the dot-stuffing encoder. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DotEncoder } from '../../src/queue/smtp-client/dot-encoder.js';
import { parseEhloReply } from '../../src/queue/smtp-client/extensions.js';
import { MalformedReplyError, ReplyParser, replyText } from '../../src/queue/smtp-client/reply.js';
import { DotDecoder } from '../../src/smtp/wire/data-decoder.js';

function parse(...lines: string[]) {
  const parser = new ReplyParser();
  for (let i = 0; i < lines.length - 1; i++) assert.equal(parser.push(lines[i]), null, `line ${i} ends the reply early`);
  const reply = parser.push(lines[lines.length - 1]);
  assert.ok(reply);
  return reply;
}

describe('reply parser', () => {
  it('reads one-line and multi-line replies with their enhanced status code', () => {
    assert.deepEqual(parse('250 2.1.0 Ok'), { code: 250, enhanced: '2.1.0', lines: ['2.1.0 Ok'] });
    const multi = parse('550-5.1.1 The account does not exist.', '550-5.1.1 Please check the address', '550 5.1.1 and try again');
    assert.equal(multi.code, 550);
    assert.equal(multi.enhanced, '5.1.1');
    assert.equal(replyText(multi), '550 5.1.1 The account does not exist. Please check the address and try again');
    assert.deepEqual(parse('354 go ahead'), { code: 354, enhanced: null, lines: ['go ahead'] });
    assert.deepEqual(parse('250'), { code: 250, enhanced: null, lines: [''] });
  });

  it('takes an enhanced code only when its class matches the reply', () => {
    assert.equal(parse('550 2.1.0 odd').enhanced, null);
    assert.equal(parse('451 4.4.2 timeout').enhanced, '4.4.2');
    assert.equal(parse('250 2.0.0').enhanced, '2.0.0');
    assert.equal(parse('250 2.0.0x').enhanced, null);
  });

  it('refuses lines that are not SMTP', () => {
    for (const bad of ['hello', '25 short', '2500 long', '250x', '999 no such class', '']) {
      assert.throws(() => new ReplyParser().push(bad), MalformedReplyError, bad);
    }
    const parser = new ReplyParser();
    parser.push('250-first');
    assert.throws(() => parser.push('550 second'), MalformedReplyError, 'codes differ within one reply');
  });
});

describe('EHLO extensions', () => {
  it('reads the keywords the client uses', () => {
    const ext = parseEhloReply(
      parse('250-mx.example Hello', '250-PIPELINING', '250-SIZE 35882577', '250-8BITMIME', '250-AUTH=PLAIN LOGIN', '250-AUTH CRAM-MD5 plain', '250-STARTTLS', '250 SMTPUTF8'),
    );
    assert.equal(ext.pipelining, true);
    assert.equal(ext.maxSize, 35882577);
    assert.equal(ext.eightBitMime, true);
    assert.equal(ext.startTls, true);
    assert.equal(ext.smtputf8, true);
    assert.deepEqual(ext.auth.sort(), ['CRAM-MD5', 'LOGIN', 'PLAIN']);
  });

  it('treats SIZE without a number, or SIZE 0, as no limit', () => {
    assert.equal(parseEhloReply(parse('250-x', '250 SIZE')).maxSize, null);
    assert.equal(parseEhloReply(parse('250-x', '250 SIZE 0')).maxSize, null);
    assert.equal(parseEhloReply(parse('250-x', '250 SIZE 0')).size, true);
    const bare = parseEhloReply(parse('250 x'));
    assert.equal(bare.pipelining || bare.eightBitMime || bare.startTls || bare.size, false);
  });
});

/** Encodes `input` fed in the given chunk sizes. */
function encode(input: Buffer, chunkSizes: number[] = [input.length]): Buffer {
  const encoder = new DotEncoder();
  const out: Buffer[] = [];
  let pos = 0;
  let i = 0;
  while (pos < input.length) {
    const n = Math.max(1, chunkSizes[i++ % chunkSizes.length]);
    out.push(encoder.push(input.subarray(pos, pos + n)));
    pos += n;
  }
  out.push(encoder.end());
  return Buffer.concat(out);
}

/** What the receiving server stores. */
function decode(wire: Buffer): { message: Buffer; rest: Buffer | null } {
  const decoder = new DotDecoder();
  const result = decoder.push(wire);
  assert.ok(result.done, 'the end marker was not found');
  return { message: Buffer.concat(result.segments), rest: result.rest };
}

describe('dot-stuffing encoder', () => {
  const cases: Array<[string, string]> = [
    ['Subject: x\r\n\r\nbody\r\n', 'Subject: x\r\n\r\nbody\r\n.\r\n'],
    ['.starts with a dot\r\n', '..starts with a dot\r\n.\r\n'],
    ['a\r\n.\r\nb\r\n', 'a\r\n..\r\nb\r\n.\r\n'],
    ['a\r\n..two\r\n', 'a\r\n...two\r\n.\r\n'],
    ['no final line end', 'no final line end\r\n.\r\n'],
    ['', '.\r\n'],
    ['bare\nline feeds\n.dot\n', 'bare\r\nline feeds\r\n..dot\r\n.\r\n'],
    ['bare\rcarriage\r.return', 'bare\r\ncarriage\r\n..return\r\n.\r\n'],
    ['ends with cr\r', 'ends with cr\r\n.\r\n'],
    ['mid.dot and a.b\r\n', 'mid.dot and a.b\r\n.\r\n'],
  ];

  it('stuffs leading dots, fixes bare line ends and ends with CRLF . CRLF', () => {
    for (const [input, expected] of cases) {
      assert.equal(encode(Buffer.from(input)).toString('latin1'), expected, JSON.stringify(input));
    }
  });

  it('gives the same bytes whatever the chunking', () => {
    for (const [input, expected] of cases) {
      for (const sizes of [[1], [2], [3, 1], [5, 7, 1]]) {
        assert.equal(encode(Buffer.from(input), sizes).toString('latin1'), expected, `${JSON.stringify(input)} in chunks of ${sizes}`);
      }
    }
  });

  it('cannot be made to end a message early (no smuggled second message)', () => {
    const smuggle = Buffer.from('Subject: a\r\n\r\nhi\n.\r\nMAIL FROM:<evil@x>\r\n\r\n.\n\r\nend\r\n');
    const wire = encode(smuggle, [3, 5]);
    const { message, rest } = decode(wire);
    assert.equal(rest, null, 'nothing follows the one end marker');
    assert.ok(message.toString('latin1').includes('MAIL FROM:<evil@x>'), 'the injected command stays message content');
  });

  it('round-trips random messages through the server-side decoder', () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const alphabet = ['.', '\r', '\n', '\r\n', 'a', 'b', ' ', '\u00e9'];
    for (let n = 0; n < 300; n++) {
      let text = '';
      const len = Math.floor(random() * 40);
      for (let i = 0; i < len; i++) text += alphabet[Math.floor(random() * alphabet.length)];
      const input = Buffer.from(text, 'utf8');
      // What the encoder promises: every line end a CRLF, and the last line ended.
      let normalized = text.replace(/\r\n|\r|\n/g, '\r\n');
      if (normalized.length > 0 && !normalized.endsWith('\r\n')) normalized += '\r\n';
      const sizes = [1 + Math.floor(random() * 5), 1 + Math.floor(random() * 5)];
      const { message, rest } = decode(encode(input, sizes));
      assert.equal(rest, null);
      assert.equal(message.toString('utf8'), normalized, JSON.stringify(text));
    }
  });

  it('counts the message bytes it took', () => {
    const encoder = new DotEncoder();
    encoder.push(Buffer.from('.a\r\n'));
    encoder.push(Buffer.from('b'));
    assert.equal(encoder.size, 5);
  });
});
