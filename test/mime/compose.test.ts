/**
 * The message composer: header encodings, the text body's transfer encoding, attachments
 * streamed as base64 with RFC 2231 names, the size known beforehand; and every composed
 * message read back by Python's email package, a MIME parser nobody here wrote.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { base64Size, composeMessage, ComposeError, formatDate, normalizeAddress, parseMailbox, type ComposeInput } from '../../src/mime/compose.js';
import { encodeWords, foldField, headerParameter, quotedPrintable } from '../../src/mime/compose-encoding.js';
import { decodeEncodedWords } from '../../src/mime/decode.js';
import { makeTempDir, removeDir } from '../helpers/cli.js';
import { runProgram } from '../helpers/process.js';

/** Parses a message file with Python's email package (modern policy) and describes it as JSON. */
const PY_READ = String.raw`
import email, email.policy, hashlib, json, sys
msg = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=email.policy.default)
def part_info(p):
    info = {'type': p.get_content_type(), 'filename': p.get_filename(), 'cte': p.get('Content-Transfer-Encoding')}
    if p.get_content_maintype() == 'text' and p.get_filename() is None:
        info['text'] = p.get_content()
    else:
        data = p.get_payload(decode=True)
        info['sha256'] = hashlib.sha256(data).hexdigest()
        info['size'] = len(data)
    return info
parts = [part_info(p) for p in msg.walk() if not p.is_multipart()]
print(json.dumps({
    'subject': str(msg['subject']), 'from': str(msg['from']), 'to': str(msg['to']), 'cc': str(msg['cc']) if msg['cc'] else None,
    'bcc': msg['bcc'], 'date': str(msg['date']), 'messageId': str(msg['message-id']), 'type': msg.get_content_type(),
    'defects': [str(d) for d in msg.defects] + [str(d) for p in msg.walk() for d in p.defects],
    'parts': parts,
}))
`;

interface PyPart {
  type: string;
  filename: string | null;
  cte: string | null;
  text?: string;
  sha256?: string;
  size?: number;
}
interface PyMessage {
  subject: string;
  from: string;
  to: string;
  cc: string | null;
  bcc: string | null;
  date: string;
  messageId: string;
  type: string;
  defects: string[];
  parts: PyPart[];
}

let dir: string;
before(async () => {
  dir = await makeTempDir('wharf-compose-');
});
after(() => removeDir(dir));

async function render(input: ComposeInput): Promise<{ bytes: Buffer; size: number; chunks: number[]; messageId: string }> {
  const message = await composeMessage(input);
  const parts: Buffer[] = [];
  for await (const chunk of message.body()) parts.push(chunk);
  return { bytes: Buffer.concat(parts), size: message.size, chunks: parts.map((p) => p.length), messageId: message.messageId };
}

let counter = 0;
async function pythonRead(bytes: Buffer): Promise<PyMessage> {
  const file = path.join(dir, `msg-${counter++}.eml`);
  await writeFile(file, bytes);
  const r = await runProgram('python3', ['-c', PY_READ, file]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as PyMessage;
}

const headerOf = (bytes: Buffer) => bytes.toString('utf8').split('\r\n\r\n')[0];
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function assertWellFormed(bytes: Buffer): void {
  const text = bytes.toString('latin1');
  assert.ok(!/\r(?!\n)|(?<!\r)\n/.test(text), 'only CRLF line ends');
  for (const line of text.split('\r\n')) assert.ok(line.length <= 998, `line of ${line.length} characters`);
  for (const line of headerOf(bytes).split('\r\n')) assert.ok(line.length <= 78, `header line longer than 78: ${line}`);
}

describe('message composer', () => {
  it('writes a plain ASCII message as 7bit text/plain', async () => {
    const date = new Date(Date.UTC(2025, 0, 2, 3, 4, 5));
    const { bytes, size, messageId } = await render({
      from: { name: 'Alice Example', address: 'alice@sender.test' },
      to: [{ address: 'bob@rcpt.test' }, { name: 'Doe, John', address: 'john@rcpt.test' }],
      cc: [{ address: 'carol@rcpt.test' }],
      subject: 'Lunch tomorrow?',
      text: 'Hi Bob,\n\n.see you at noon\n',
      date,
    });
    assert.equal(size, bytes.length);
    assertWellFormed(bytes);
    const header = headerOf(bytes);
    assert.match(header, /^Date: /);
    assert.match(header, /\r\nFrom: Alice Example <alice@sender\.test>\r\n/);
    assert.match(header, /\r\nTo: bob@rcpt\.test, "Doe, John" <john@rcpt\.test>\r\n/);
    assert.match(header, /\r\nContent-Transfer-Encoding: 7bit$/);
    assert.match(messageId, /^<[a-z0-9]+\.[0-9a-f]{18}@sender\.test>$/);
    assert.ok(bytes.toString().endsWith('\r\n\r\nHi Bob,\r\n\r\n.see you at noon\r\n'));

    const py = await pythonRead(bytes);
    assert.deepEqual(py.defects, []);
    assert.equal(py.subject, 'Lunch tomorrow?');
    assert.equal(py.from, 'Alice Example <alice@sender.test>');
    assert.equal(py.to, 'bob@rcpt.test, "Doe, John" <john@rcpt.test>');
    assert.equal(py.cc, 'carol@rcpt.test');
    assert.equal(py.messageId, messageId);
    assert.equal(new Date(py.date).getTime(), date.getTime());
    assert.deepEqual(py.parts, [{ type: 'text/plain', filename: null, cte: '7bit', text: 'Hi Bob,\r\n\r\n.see you at noon\r\n'.replace(/\r\n/g, '\n') }]);
  });

  it('encodes non-ASCII subjects and names as RFC 2047 words, and the body as quoted-printable', async () => {
    const subject = 'Grüße aus Köln — Ünïcödé test with a subject long enough to need several encoded words 🚢';
    const text = 'Liebe Jördis,\nein sehr langer Satz mit Umlauten äöü, der länger als sechsundsiebzig Zeichen ist und umbrochen werden muss.\nTrailing space \nx=1\n';
    const { bytes, size } = await render({
      from: { name: 'Jörg Müller', address: 'joerg@sender.test' },
      to: [{ name: '山田太郎', address: 'taro@rcpt.test' }],
      subject,
      text,
    });
    assert.equal(size, bytes.length);
    assertWellFormed(bytes);
    // eslint-disable-next-line no-control-regex
    assert.ok(/^[\x00-\x7f]*$/.test(bytes.toString('latin1')), 'the message is 7-bit');
    const header = headerOf(bytes);
    assert.match(header, /\r\nSubject: =\?utf-8\?B\?/);
    assert.match(header, /Content-Transfer-Encoding: quoted-printable/);
    const subjectField = /\r\nSubject: (.*(?:\r\n .*)*)/.exec(header)![1];
    assert.equal(decodeEncodedWords(subjectField.replace(/\r\n/g, '')), subject, 'our own decoder reads it back');

    const py = await pythonRead(bytes);
    assert.deepEqual(py.defects, []);
    assert.equal(py.subject, subject);
    assert.equal(py.from, 'Jörg Müller <joerg@sender.test>');
    assert.equal(py.to, '山田太郎 <taro@rcpt.test>');
    assert.equal(py.parts[0].text, text);
    assert.equal(py.parts[0].cte, 'quoted-printable');
  });

  it('adds attachments as base64 parts of multipart/mixed, named with RFC 2231 when needed', async () => {
    const binary = randomBytes(200_003);
    const files = {
      binary: path.join(dir, 'data.bin'),
      umlaut: path.join(dir, 'Bericht für Jörg.pdf'),
      empty: path.join(dir, 'empty.txt'),
      long: path.join(dir, `${'a-very-long-file-name-'.repeat(5)}€.csv`),
      quote: path.join(dir, 'say "hi".txt'),
    };
    await writeFile(files.binary, binary);
    await writeFile(files.umlaut, '%PDF-1.4 not really\n');
    await writeFile(files.empty, '');
    await writeFile(files.long, 'a,b\n1,2\n');
    await writeFile(files.quote, 'hi\n');
    const { bytes, size, chunks } = await render({
      from: { address: 'alice@sender.test' },
      to: [{ address: 'bob@rcpt.test' }],
      subject: 'files',
      text: 'See attached.',
      attachments: Object.values(files).map((p) => ({ path: p })),
    });
    assert.equal(size, bytes.length, 'the size announced is the size sent');
    assertWellFormed(bytes);
    assert.ok(Math.max(...chunks) < 128 * 1024, 'the attachment is streamed in chunks, not read whole');
    const text = bytes.toString('latin1');
    assert.match(text, /filename\*=utf-8''Bericht%20f%C3%BCr%20J%C3%B6rg\.pdf/);
    assert.match(text, /filename\*0\*=utf-8''a-very-long/);

    const py = await pythonRead(bytes);
    assert.deepEqual(py.defects, []);
    assert.equal(py.type, 'multipart/mixed');
    assert.deepEqual(py.parts[0], { type: 'text/plain', filename: null, cte: '7bit', text: 'See attached.\n' });
    const attached = py.parts.slice(1);
    assert.deepEqual(attached.map((p) => [p.filename, p.type, p.cte]), [
      ['data.bin', 'application/octet-stream', 'base64'],
      ['Bericht für Jörg.pdf', 'application/pdf', 'base64'],
      ['empty.txt', 'text/plain', 'base64'],
      [path.basename(files.long), 'text/csv', 'base64'],
      ['say "hi".txt', 'text/plain', 'base64'],
    ]);
    assert.equal(attached[0].sha256, sha256(binary));
    assert.equal(attached[0].size, binary.length);
    assert.equal(attached[2].size, 0);
    assert.equal(attached[3].sha256, sha256(Buffer.from('a,b\n1,2\n')));
  });

  it('keeps header injection out: line breaks in a subject or name stay inside the field', async () => {
    const { bytes } = await render({
      from: { name: 'Eve\r\nBcc: victim@x.test', address: 'eve@sender.test' },
      to: [{ address: 'bob@rcpt.test' }],
      subject: 'hello\r\nBcc: victim@x.test',
      text: 'x',
    });
    assert.ok(!/\r\nBcc:/i.test(headerOf(bytes)));
    const py = await pythonRead(bytes);
    assert.equal(py.bcc, null);
    assert.equal(py.subject, 'hello Bcc: victim@x.test');
  });

  it('writes "To: undisclosed-recipients:;" when there is no To', async () => {
    const { bytes } = await render({ from: { address: 'a@sender.test' }, to: [], subject: 's', text: 't' });
    assert.match(headerOf(bytes), /\r\nTo: undisclosed-recipients:;\r\n/);
    assert.deepEqual((await pythonRead(bytes)).defects, []);
  });

  it('refuses an attachment that is missing or changes size while being sent', async () => {
    await assert.rejects(
      composeMessage({ from: { address: 'a@sender.test' }, to: [], subject: 's', text: 't', attachments: [{ path: path.join(dir, 'missing') }] }),
      ComposeError,
    );
    const file = path.join(dir, 'growing.txt');
    await writeFile(file, 'short');
    const message = await composeMessage({ from: { address: 'a@sender.test' }, to: [], subject: 's', text: 't', attachments: [{ path: file }] });
    await writeFile(file, 'much longer now');
    await assert.rejects(async () => {
      for await (const _ of message.body()) void _;
    }, /changed size/);
  });
});

describe('composer encodings', () => {
  it('parses mailboxes as people type them, with IDNA domains', () => {
    assert.deepEqual(parseMailbox('alice@x.test'), { address: 'alice@x.test' });
    assert.deepEqual(parseMailbox('Alice <alice@X.Test>'), { name: 'Alice', address: 'alice@x.test' });
    assert.deepEqual(parseMailbox('"Doe, John" <j@x.test>'), { name: 'Doe, John', address: 'j@x.test' });
    assert.deepEqual(parseMailbox('<j@bücher.example>'), { address: 'j@xn--bcher-kva.example' });
    assert.deepEqual(normalizeAddress('jörg@x.test'), { address: 'jörg@x.test', utf8: true });
    for (const bad of ['nobody', '@x.test', 'a b@x.test', 'a@', 'a@b', 'a@x.test\r\nBcc: y@z.test', 'a<b@x.test']) {
      assert.throws(() => parseMailbox(bad), ComposeError, bad);
    }
  });

  it('folds header fields at 78 characters without changing them', () => {
    const tokens = 'a quick brown fox jumps over the lazy dog and keeps running far beyond the end of the line'.split(' ');
    const folded = foldField('Subject', tokens);
    for (const line of folded.split('\r\n')) assert.ok(line.length <= 78);
    assert.ok(folded.includes('\r\n '));
    assert.equal(folded.replace(/\r\n/g, ''), `Subject: ${tokens.join(' ')}`);
  });

  it('splits encoded words on whole characters', () => {
    const text = '🚢'.repeat(30);
    const words = encodeWords(text);
    assert.ok(words.length > 1);
    for (const w of words) assert.ok(w.length <= 75);
    assert.equal(decodeEncodedWords(words.join(' ')), text);
  });

  it('writes RFC 2231 parameters, never splitting a %XX escape', () => {
    const value = 'ü'.repeat(40);
    const tokens = headerParameter('filename', value);
    assert.ok(tokens.length > 1);
    for (const t of tokens) assert.ok(!/%[0-9A-F]?(;|$)/.test(t), t);
    assert.deepEqual(headerParameter('name', 'plain.txt'), ['name="plain.txt"']);
  });

  it('encodes quoted-printable with soft breaks, =XX and trailing whitespace', () => {
    assert.equal(quotedPrintable(Buffer.from('a=b \r\ntab\t\r\n', 'utf8')), 'a=3Db=20\r\ntab=09\r\n');
    assert.equal(quotedPrintable(Buffer.from('é')), '=C3=A9');
    const long = quotedPrintable(Buffer.from('x'.repeat(200)));
    for (const line of long.split('\r\n')) assert.ok(line.length <= 76);
    assert.equal(long.replace(/=\r\n/g, ''), 'x'.repeat(200));
  });

  it('knows the base64 size of n bytes', () => {
    for (const n of [0, 1, 2, 3, 56, 57, 58, 114, 1000, 123457]) {
      const b64 = Buffer.alloc(n).toString('base64');
      const lines = n === 0 ? 1 : Math.ceil(b64.length / 76);
      assert.equal(base64Size(n), b64.length + 2 * lines, String(n));
    }
  });

  it('formats dates as RFC 5322 says', () => {
    assert.match(formatDate(new Date()), /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d [+-]\d{4}$/);
  });
});
