/**
 * A strict reader of the IMAP values a server writes (RFC 9051 4: NIL, atoms, "quoted"
 * strings, {n} literals counted in octets, parenthesised lists), used to check that what the
 * server formats (ENVELOPE, BODYSTRUCTURE) is well-formed and carries the values it meant to.
 */
import { InvariantError } from '../engine/types.js';

export type ImapValue = null | string | Buffer | ImapValue[];

export function parseImapValue(bytes: Buffer): ImapValue {
  let i = 0;
  const fail = (why: string): never => {
    throw new InvariantError(`malformed IMAP value at ${i}: ${why}: ${JSON.stringify(bytes.subarray(Math.max(0, i - 20), i + 20).toString('latin1'))}`);
  };
  const value = (depth: number): ImapValue => {
    if (depth > 200) fail('nested too deeply');
    const c = bytes[i];
    if (c === 0x28) {
      i++;
      const items: ImapValue[] = [];
      while (bytes[i] !== 0x29) {
        if (i >= bytes.length) fail('unclosed list');
        // Items are separated by a space, except the bodies of a multipart and the
        // addresses of a list, which follow each other directly: ")(" (RFC 9051 9).
        if (items.length > 0 && !(bytes[i] === 0x28 && bytes[i - 1] === 0x29)) {
          if (bytes[i] !== 0x20) fail('missing space');
          i++;
        }
        items.push(value(depth + 1));
      }
      i++;
      return items;
    }
    if (c === 0x22) {
      const out: number[] = [];
      i++;
      for (;;) {
        if (i >= bytes.length) fail('unterminated quoted string');
        const b = bytes[i++];
        if (b === 0x22) return Buffer.from(out);
        if (b === 0x0d || b === 0x0a || b === 0) fail('CR, LF or NUL in a quoted string');
        if (b === 0x5c) {
          const n = bytes[i++];
          if (n !== 0x22 && n !== 0x5c) fail('bad escape');
          out.push(n);
        } else out.push(b);
      }
    }
    if (c === 0x7b) {
      const m = /^\{(\d+)\}\r\n/.exec(bytes.subarray(i, i + 24).toString('latin1'));
      if (!m) fail('bad literal');
      const n = Number(m![1]);
      i += m![0].length;
      if (i + n > bytes.length) fail('literal runs past the end');
      const v = bytes.subarray(i, i + n);
      i += n;
      return v;
    }
    const start = i;
    while (i < bytes.length && bytes[i] > 0x20 && bytes[i] < 0x7f && !'()"{'.includes(String.fromCharCode(bytes[i]))) i++;
    if (i === start) fail('empty atom');
    const atom = bytes.subarray(start, i).toString('latin1');
    return atom === 'NIL' ? null : atom;
  };
  const v = value(0);
  if (i !== bytes.length) fail('trailing bytes');
  return v;
}

export function asList(v: ImapValue, what: string): ImapValue[] {
  if (!Array.isArray(v)) throw new InvariantError(`${what} is not a list`);
  return v;
}
