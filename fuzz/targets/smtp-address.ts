/**
 * MAIL FROM / RCPT TO arguments (smtp/address.ts parsePathArgument, RFC 5321 4.1.2 with
 * RFC 6531). Invariants: a parsed mailbox is in canonical form (parsing its address again gives
 * the same mailbox, and so does the path "<address>"), the UTF-8 flag says whether it is
 * non-ASCII, the domain is a valid domain or address literal, and the ESMTP parameters print
 * back to parameters that parse the same.
 */
import fc from 'fast-check';
import { isValidDomain, parseEsmtpParams, parseMailbox, parsePathArgument } from '../../src/smtp/address.js';
import { check, type FuzzTarget } from '../engine/types.js';

const local = fc.oneof(
  fc.constantFrom('bob', 'a.b', '"bob"', '"a b"', '"a\\"b"', '"a\\\\b"', '.a', 'a..b', 'a.', '"\\\u00e9"', 'jos\u00e9', 'postmaster', '"@"', '"a@b"@c', '""', 'a+tag', "o'neil"),
  fc.string({ maxLength: 10 }),
);
const domain = fc.oneof(
  fc.constantFrom('example.com', 'EXAMPLE.com.', 'xn--bcher-kva.example', 'b\u00fccher.example', '[127.0.0.1]', '[IPv6:::1]', '[IPv6:1:2:3:4:5:6:7:8]', '[IPv6:::ffff:1.2.3.4]', '[tag:x]', '[999.1.1.1]', '-a.com', 'a-.com', 'a..com', ''),
  fc.domain(),
  fc.string({ maxLength: 10 }),
);
const path = fc
  .tuple(fc.constantFrom('', '@relay.example:', '@a,@b:', '@:'), local, domain, fc.constantFrom('<', ''), fc.constantFrom('>', ''))
  .map(([route, l, d, open, close]) => `${open}${route}${l}@${d}${close}`);
const params = fc.array(fc.constantFrom('SIZE=1000', 'BODY=8BITMIME', 'SMTPUTF8', 'AUTH=<>', 'X=', '=x', 'ENVID=a=b', 'RET=HDRS', 'size=12'), { maxLength: 3 });
const argument = fc.tuple(fc.constantFrom('', ' ', '\t'), fc.oneof(path, fc.constant('<>')), params).map(([ws, p, ps]) => [ws + p, ...ps].join(' '));

const target: FuzzTarget = {
  name: 'smtp-address',
  description: 'MAIL FROM/RCPT TO paths and ESMTP parameters (smtp/address.ts)',
  generator: argument.map((a) => ({ bytes: Buffer.from(a, 'utf8') })),
  dictionary: ['<', '>', '@', '"', '\\', '[IPv6:', ']', ':', ',', ' SIZE=', '.'],
  maxInputBytes: 2048,
  run(bytes) {
    const text = bytes.toString('utf8');
    const parsed = parsePathArgument(text);
    if (!parsed.ok) {
      check(parsed.reason === 'syntax' || parsed.reason === 'address', 'unknown failure reason');
      return;
    }
    const printed = parsed.params.map((p) => (p.value === null ? p.keyword : `${p.keyword}=${p.value}`)).join(' ');
    check(JSON.stringify(parseEsmtpParams(printed)) === JSON.stringify(parsed.params), 'parameters do not print back to themselves');
    for (const p of parsed.params) check(p.keyword === p.keyword.toUpperCase(), 'keyword not upper-cased');
    const m = parsed.mailbox;
    if (!m) return;
    check(m.address === `${m.local}@${m.domain}`, 'address is not local@domain');
    check(m.local.length > 0, 'empty local part');
    check(m.utf8 === /[^\x00-\x7f]/.test(m.address), 'UTF-8 flag wrong');
    check(m.domain.startsWith('[') ? m.domain.endsWith(']') : isValidDomain(m.domain), () => `invalid domain ${JSON.stringify(m.domain)}`);
    const again = parseMailbox(m.address);
    check(again !== null && JSON.stringify(again) === JSON.stringify(m), () => `mailbox ${JSON.stringify(m.address)} does not parse back to itself: ${JSON.stringify(again)}`);
    const asPath = parsePathArgument(`<${m.address}>`);
    check(asPath.ok && JSON.stringify(asPath.mailbox) === JSON.stringify(m), () => `<${m.address}> does not parse to the same mailbox`);
  },
};
export default target;
