/**
 * RFC 5322 header blocks and address lists: splitting fields (mime/header-fields.ts), the
 * ENVELOPE built from them (mime/envelope.ts) and written for IMAP (imap/format/envelope.ts),
 * the header summary the store keeps (mime/header-summary.ts) and SORT's first address.
 * Invariants: field names are non-empty and colon-free, values hold no line break; the
 * ENVELOPE is a well-formed IMAP value of ten items whose strings read back exactly as parsed
 * (literal lengths in octets); address lists print as "name <mailbox@host>" and parse back to
 * the same addresses.
 */
import fc from 'fast-check';
import { formatEnvelope } from '../../src/imap/format/envelope.js';
import { firstAddress } from '../../src/imap/protocol/first-address.js';
import type { EnvelopeAddress } from '../../src/mime/analysis.js';
import { buildEnvelope, parseAddressList } from '../../src/mime/envelope.js';
import { parseHeaderFields } from '../../src/mime/header-fields.js';
import { parseHeaderSummary } from '../../src/mime/header-summary.js';
import { check, type FuzzTarget } from '../engine/types.js';
import { asList, parseImapValue, type ImapValue } from './imap-value.js';

const addr = fc.oneof(
  fc.constantFrom(
    'bob@example.com',
    'Bob Smith <bob@example.com>',
    '"Smith, Bob" <bob@example.com>',
    'bob@example.com (Bob)',
    '<@route.example:bob@example.com>',
    'Undisclosed recipients:;',
    'group: a@b.c, d@e.f;',
    '=?utf-8?B?w6k=?= <x@y.z>',
    '"a\\"b" <"q u"@x.y>',
    '<>',
    '@',
    'a@[127.0.0.1]',
    'Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>',
    'Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>',
    'A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;',
  ),
  fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 6 }), fc.domain()).map(([n, l, d]) => `${n} <${l}@${d}>`),
);
const field = fc.oneof(
  fc.tuple(fc.constantFrom('From', 'To', 'Cc', 'Bcc', 'Reply-To', 'Sender', 'from', 'TO'), fc.array(addr, { minLength: 1, maxLength: 3 })).map(([n, a]) => `${n}: ${a.join(', ')}`),
  fc.tuple(fc.constantFrom('Subject', 'Date', 'Message-ID', 'In-Reply-To', 'References', 'X-Junk', 'Content-Type'), fc.string({ maxLength: 30 })).map(([n, v]) => `${n}: ${v}`),
  fc.constantFrom(' folded continuation', '\tfolded', 'no colon line', ':empty name', 'Subject:', 'Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)', 'Subject: =?utf-8?Q?caf=C3=A9?= \r\n =?utf-8?Q?x?='),
);
const block = fc.tuple(fc.array(field, { maxLength: 10 }), fc.constantFrom('\r\n', '\n')).map(([f, eol]) => f.join(eol) + eol + eol + 'body');

const ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

function text(v: ImapValue): string | null {
  if (v === null) return null;
  check(Buffer.isBuffer(v), 'expected a string in the ENVELOPE');
  return (v as Buffer).toString('utf8');
}

function checkAddresses(v: ImapValue, list: EnvelopeAddress[] | null, what: string): void {
  if (list === null || list.length === 0) return check(v === null, `${what}: NIL expected`);
  const items = asList(v, what);
  check(items.length === list.length, `${what}: ${items.length} addresses written, ${list.length} parsed`);
  items.forEach((item, i) => {
    const four = asList(item, `${what} address`);
    check(four.length === 4, `${what}: address with ${four.length} fields`);
    const a = list[i];
    check(text(four[0]) === a.name && text(four[1]) === a.adl && text(four[2]) === a.mailbox && text(four[3]) === a.host, () => `${what}: address ${i} written as something else`);
  });
}

const target: FuzzTarget = {
  name: 'rfc5322-header',
  description: 'RFC 5322 header fields, address lists and the IMAP ENVELOPE (mime/envelope.ts, header-fields.ts)',
  generator: block.map((b) => ({ bytes: Buffer.from(b, 'utf8') })),
  dictionary: ['From: ', 'To: ', ':;', '<', '>', '@', '"', '\\', '(', ')', ',', '\r\n ', '\r\n\r\n', '=?utf-8?B?'],
  maxInputBytes: 8192,
  run(bytes) {
    const fields = parseHeaderFields(bytes);
    for (const f of fields) {
      check(f.name.length > 0 && !f.name.includes(':'), `field name ${JSON.stringify(f.name)}`);
      check(!f.value.includes('\n'), 'line break in a field value');
    }
    parseHeaderSummary(bytes);
    const env = buildEnvelope(fields);
    const written = parseImapValue(Buffer.from(formatEnvelope(env), 'utf8'));
    const items = asList(written, 'ENVELOPE');
    check(items.length === 10, `ENVELOPE has ${items.length} items`);
    check(text(items[0]) === env.date, 'date written as something else');
    check(text(items[8]) === env.inReplyTo && text(items[9]) === env.messageId, 'in-reply-to or message-id written as something else');
    checkAddresses(items[2], env.from, 'from');
    checkAddresses(items[3], env.sender, 'sender');
    checkAddresses(items[4], env.replyTo, 'reply-to');
    checkAddresses(items[5], env.to, 'to');
    checkAddresses(items[6], env.cc, 'cc');
    checkAddresses(items[7], env.bcc, 'bcc');
    for (const f of fields) {
      if (!/^(from|to|cc)$/i.test(f.name)) continue;
      const list = parseAddressList(f.value);
      firstAddress(f.value);
      // Plain addresses (no groups, routes or placeholders) print and parse back unchanged.
      const plain = list.length > 0 && list.every((a) => a.mailbox !== null && a.host !== null && a.adl === null && ATOM.test(a.mailbox) && /^[A-Za-z0-9.-]+$/.test(a.host) && (a.name === null || !/[\r\n\0]/.test(a.name)));
      if (!plain) continue;
      const printed = list.map((a) => `${a.name === null ? '' : `"${a.name.replace(/(["\\])/g, '\\$1')}" `}<${a.mailbox}@${a.host}>`).join(', ');
      const again = parseAddressList(printed);
      check(JSON.stringify(again) === JSON.stringify(list), () => `${JSON.stringify(printed)} parses to ${JSON.stringify(again)}, not ${JSON.stringify(list)}`);
    }
  },
};
export default target;
