/**
 * A small reader for IMAP FETCH responses as a server sends them: parenthesised lists, quoted
 * strings, literals ({n} and ~{n}), NIL and atoms (an atom such as BODY[HEADER.FIELDS (A B)]
 * keeps its bracketed part whole). Used to take Dovecot's recorded answers apart.
 */

export type ImapValue = null | string | Buffer | ImapValue[];

export interface ParsedItem {
  value: ImapValue;
  /** The exact bytes of the value as the server sent them. */
  raw: Buffer;
}

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  peek(): number {
    return this.buf[this.pos];
  }

  skipSpaces(): void {
    while (this.buf[this.pos] === 0x20) this.pos++;
  }

  value(): ImapValue {
    const c = this.peek();
    if (c === 0x28) {
      this.pos++;
      const list: ImapValue[] = [];
      for (;;) {
        this.skipSpaces();
        if (this.peek() === 0x29) {
          this.pos++;
          return list;
        }
        if (this.pos >= this.buf.length) throw new Error('unterminated list');
        list.push(this.value());
      }
    }
    if (c === 0x22) {
      this.pos++;
      const bytes: number[] = [];
      for (;;) {
        const b = this.buf[this.pos++];
        if (b === undefined) throw new Error('unterminated quoted string');
        if (b === 0x22) break;
        bytes.push(b === 0x5c ? this.buf[this.pos++] : b);
      }
      return Buffer.from(bytes).toString('utf8');
    }
    if (c === 0x7b || (c === 0x7e && this.buf[this.pos + 1] === 0x7b)) {
      const close = this.buf.indexOf('}', this.pos);
      const n = Number(this.buf.subarray(this.buf.indexOf('{', this.pos) + 1, close).toString('latin1').replace('+', ''));
      const start = close + 3; // "}\r\n"
      this.pos = start + n;
      return this.buf.subarray(start, start + n);
    }
    return this.atom();
  }

  atom(): string | null {
    const start = this.pos;
    let depth = 0;
    while (this.pos < this.buf.length) {
      const b = this.buf[this.pos];
      if (b === 0x5b) depth++;
      else if (b === 0x5d) depth--;
      else if (depth === 0 && (b === 0x20 || b === 0x29 || b === 0x28 || b === 0x0d)) break;
      this.pos++;
    }
    const text = this.buf.subarray(start, this.pos).toString('latin1');
    return text.toUpperCase() === 'NIL' ? null : text;
  }
}

/**
 * Every item of every untagged FETCH response in `data` (later responses add to earlier ones),
 * by upper-cased item name, e.g. "BODYSTRUCTURE" or "BODY[1.MIME]".
 */
export function parseFetchResponses(data: Buffer): Map<string, ParsedItem> {
  const items = new Map<string, ParsedItem>();
  const r = new Reader(data);
  while (r.pos < data.length) {
    const lineStart = r.pos;
    const m = /^\* \d+ FETCH \(/.exec(data.subarray(lineStart, lineStart + 40).toString('latin1'));
    if (!m) {
      const eol = data.indexOf('\r\n', lineStart);
      r.pos = eol < 0 ? data.length : eol + 2;
      continue;
    }
    r.pos = lineStart + m[0].length;
    for (;;) {
      r.skipSpaces();
      if (r.peek() === 0x29) {
        r.pos++;
        break;
      }
      const name = String(r.atom()).toUpperCase();
      r.skipSpaces();
      const start = r.pos;
      const value = r.value();
      items.set(name, { value, raw: data.subarray(start, r.pos) });
    }
    const eol = data.indexOf('\r\n', r.pos);
    r.pos = eol < 0 ? data.length : eol + 2;
  }
  return items;
}

/** Parses one IMAP value (e.g. a BODYSTRUCTURE) from its text. */
export function parseImapValue(data: Buffer): ImapValue {
  return new Reader(data).value();
}

/**
 * The section numbers a BODYSTRUCTURE shows, in order, each with whether it is an encapsulated
 * message (which has n.HEADER and n.TEXT) and whether it is a leaf (has BINARY).
 */
export function sectionsOf(bodystructure: ImapValue): { part: number[]; message: boolean; leaf: boolean }[] {
  const out: { part: number[]; message: boolean; leaf: boolean }[] = [];
  const walk = (body: ImapValue[], prefix: number[], top: boolean) => {
    if (Array.isArray(body[0])) {
      let i = 0;
      while (Array.isArray(body[i])) {
        const child = body[i] as ImapValue[];
        const part = [...prefix, i + 1];
        visitPart(child, part);
        i++;
      }
      return;
    }
    if (top) visitPart(body, [...prefix, 1]);
  };
  const visitPart = (body: ImapValue[], part: number[]) => {
    if (Array.isArray(body[0])) {
      out.push({ part, message: false, leaf: false });
      walk(body, part, false);
      return;
    }
    const type = String(body[0]).toUpperCase();
    const subtype = String(body[1]).toUpperCase();
    const message = type === 'MESSAGE' && (subtype === 'RFC822' || subtype === 'GLOBAL') && Array.isArray(body[8]);
    out.push({ part, message, leaf: !message });
    if (message) walk(body[8] as ImapValue[], part, true);
  };
  walk(bodystructure as ImapValue[], [], true);
  return out;
}
