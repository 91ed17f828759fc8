/**
 * Header fields the server put in front of a message after it went by (BodyWriter.prepend:
 * Authentication-Results, DKIM-Signature) are part of the message for IMAP: in
 * BODY[HEADER], RFC822.SIZE and BODY[], while sections after them keep their exact bytes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { User } from '../../src/store/types.js';
import { ImapClient, startImapHarness, type ImapHarness } from './harness.js';

const ORIGINAL =
  'From: alice@example.net\r\nTo: bob@example.org\r\nSubject: signed\r\nMIME-Version: 1.0\r\n' +
  'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' +
  '--b\r\nContent-Type: text/plain\r\n\r\nHello Bob.\r\n' +
  '--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
  `${Buffer.from('binary payload').toString('base64')}\r\n--b--\r\n`;
const SIGNATURE = 'DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=sel;\r\n\tb=c2lnbmF0dXJl\r\n';
const RESULTS = 'Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=example.net\r\n';
const WHOLE = SIGNATURE + RESULTS + ORIGINAL;

/** The bytes of the literal after `label` in a FETCH response (literals are inlined as latin1). */
function literal(response: string, label: string): string {
  const at = response.indexOf(`${label} {`);
  assert.ok(at >= 0, `no ${label} in ${response}`);
  const match = /^\{(\d+)\}\r\n/.exec(response.slice(at + label.length + 1))!;
  const start = at + label.length + 1 + match[0].length;
  return response.slice(start, start + Number(match[1]));
}

describe('a message with prepended header fields', () => {
  let h: ImapHarness;
  let user: User;

  before(async () => {
    h = await startImapHarness();
    user = await h.addUser('bob', 'pw');
    const body = h.store.createBody();
    await body.write(Buffer.from(ORIGINAL));
    body.prepend(Buffer.from(RESULTS));
    body.prepend(Buffer.from(SIGNATURE));
    await h.store.deliver({
      body,
      internalDate: new Date(),
      envelope: { mailFrom: 'alice@example.net', rcptTo: [user.address] },
      userIds: [user.id],
    });
    await h.deliver(ORIGINAL, [user]); // the same message as it came, for comparison
  });
  after(() => h.close());

  it('shows them in BODY[HEADER] and RFC822.SIZE; every section keeps its exact bytes', async () => {
    const c = await ImapClient.connect(h.plain.port);
    await c.login('bob', 'pw');
    await c.command('EXAMINE INBOX');
    const r = await c.command(
      'FETCH 1 (RFC822.SIZE BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[] BODY.PEEK[1] BINARY.PEEK[2] ' +
        'BODY.PEEK[HEADER.FIELDS (DKIM-Signature Subject)])',
    );
    assert.match(r.tagged, /OK/);
    const response = r.untagged.join('\r\n');
    assert.match(response, new RegExp(`RFC822\\.SIZE ${Buffer.byteLength(WHOLE)}\\b`));
    const headerEnd = WHOLE.indexOf('\r\n\r\n') + 4;
    assert.equal(literal(response, 'BODY[HEADER]'), WHOLE.slice(0, headerEnd));
    assert.ok(literal(response, 'BODY[HEADER]').startsWith(SIGNATURE + RESULTS));
    assert.equal(literal(response, 'BODY[TEXT]'), WHOLE.slice(headerEnd));
    assert.equal(literal(response, 'BODY[]'), WHOLE);
    assert.equal(literal(response, 'BODY[1]'), 'Hello Bob.');
    assert.match(response, /BINARY\[2\] ~\{14\}\r\nbinary payload/);
    assert.equal(literal(response, 'BODY[HEADER.FIELDS (DKIM-SIGNATURE SUBJECT)]'), `${SIGNATURE}Subject: signed\r\n\r\n`);
    c.close();
  });

  it('reports the BODYSTRUCTURE and ENVELOPE of the message as it came', async () => {
    const c = await ImapClient.connect(h.plain.port);
    await c.login('bob', 'pw');
    await c.command('EXAMINE INBOX');
    const r = await c.command('FETCH 1:2 (BODYSTRUCTURE ENVELOPE BINARY.SIZE[2])');
    assert.equal(r.untagged.length, 2);
    const [prepended, plain] = r.untagged.map((line) => line.replace(/^\* \d+ FETCH /, ''));
    assert.match(prepended!, /\("text" "plain" \([^)]*\) NIL NIL "7bit" 10 0 /i);
    assert.match(prepended!, /\("application" "octet-stream" NIL NIL NIL "base64" 20 /i);
    assert.equal(prepended, plain);
    c.close();
  });
});
