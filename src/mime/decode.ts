/**
 * Content-Transfer-Encoding decoders that work on a stream of chunks split anywhere (the
 * analyzer feeds them while a message arrives; IMAP FETCH BINARY feeds them from the store),
 * and RFC 2047 encoded-word decoding for header text.
 */
import iconv from 'iconv-lite';

export interface TransferDecoder {
  /** Decodes what it can of `chunk`, keeping an incomplete tail for the next call. */
  push(chunk: Buffer): Buffer;
  /** Flushes the kept tail. */
  end(): Buffer;
}

/** True for the encodings `createTransferDecoder` undoes (besides the identity ones). */
export function isKnownTransferEncoding(encoding: string): boolean {
  return ['7bit', '8bit', 'binary', 'base64', 'quoted-printable'].includes(encoding.trim().toLowerCase());
}

/** A decoder for the named Content-Transfer-Encoding; unknown names pass bytes through. */
export function createTransferDecoder(encoding: string): TransferDecoder {
  switch (encoding.trim().toLowerCase()) {
    case 'base64':
      return createBase64Decoder();
    case 'quoted-printable':
      return createQuotedPrintableDecoder();
    default:
      return { push: (chunk) => chunk, end: () => Buffer.alloc(0) };
  }
}

/** Decodes an async stream of encoded chunks (e.g. a stored body slice) into decoded chunks. */
export async function* decodeTransferStream(encoding: string, source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const decoder = createTransferDecoder(encoding);
  for await (const chunk of source) {
    const out = decoder.push(chunk);
    if (out.length > 0) yield out;
  }
  const rest = decoder.end();
  if (rest.length > 0) yield rest;
}

const BASE64_VALUES = (() => {
  const table = new Int8Array(256).fill(-1);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i;
  return table;
})();

/**
 * Base64 that skips every byte outside the alphabet (line breaks, spaces, garbage) as RFC 2045
 * 6.8 asks, and stops at the first '=' pad (what follows a pad is not data).
 */
function createBase64Decoder(): TransferDecoder {
  let quantum = 0;
  let count = 0;
  let padded = false;
  const push = (chunk: Buffer): Buffer => {
    if (padded) return Buffer.alloc(0);
    const out = Buffer.allocUnsafe(Math.floor(((count + chunk.length) * 3) / 4) + 3);
    let n = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      const v = BASE64_VALUES[c];
      if (v < 0) {
        if (c === 0x3d) {
          padded = true;
          break;
        }
        continue;
      }
      quantum = (quantum << 6) | v;
      if (++count === 4) {
        out[n++] = (quantum >> 16) & 0xff;
        out[n++] = (quantum >> 8) & 0xff;
        out[n++] = quantum & 0xff;
        quantum = 0;
        count = 0;
      }
    }
    if (padded) return Buffer.concat([out.subarray(0, n), flush()]);
    return out.subarray(0, n);
  };
  // A partial quantum at the end yields the whole bytes it holds (2 or 3 symbols).
  const flush = (): Buffer => {
    let tail: Buffer;
    if (count === 2) tail = Buffer.from([(quantum >> 4) & 0xff]);
    else if (count === 3) tail = Buffer.from([(quantum >> 10) & 0xff, (quantum >> 2) & 0xff]);
    else tail = Buffer.alloc(0);
    quantum = 0;
    count = 0;
    return tail;
  };
  return { push, end: () => (padded ? Buffer.alloc(0) : flush()) };
}

const HEX = (() => {
  const table = new Int8Array(256).fill(-1);
  for (let i = 0; i < 10; i++) table[0x30 + i] = i;
  for (let i = 0; i < 6; i++) {
    table[0x41 + i] = 10 + i;
    table[0x61 + i] = 10 + i;
  }
  return table;
})();

const isWsp = (c: number) => c === 0x20 || c === 0x09;

/**
 * Quoted-printable (RFC 2045 6.7): =XX escapes, soft line breaks ("=" at the end of a line,
 * also with trailing white space and with a bare LF), trailing white space on a line removed.
 * An '=' not followed by two hex digits is kept literally, as most readers do.
 */
function createQuotedPrintableDecoder(): TransferDecoder {
  // Bytes that cannot be decided yet: an unfinished "=X" or a run of white space that may
  // turn out to end the line.
  let pending = Buffer.alloc(0);
  const decode = (data: Buffer, final: boolean): Buffer => {
    const out = Buffer.allocUnsafe(data.length);
    let n = 0;
    let i = 0;
    while (i < data.length) {
      const c = data[i];
      if (c === 0x3d) {
        // Soft break: '=', optional white space, then [CR]LF (or the end of the input).
        let j = i + 1;
        while (j < data.length && isWsp(data[j])) j++;
        if (j >= data.length || (data[j] === 0x0d && j + 1 >= data.length)) {
          if (!final) break;
          i = data.length;
          continue;
        }
        if (data[j] === 0x0a) {
          i = j + 1;
          continue;
        }
        if (data[j] === 0x0d && data[j + 1] === 0x0a) {
          i = j + 2;
          continue;
        }
        if (i + 2 >= data.length && !final) break;
        const hi = HEX[data[i + 1]];
        const lo = HEX[data[i + 2]];
        if (i + 2 < data.length && hi >= 0 && lo >= 0) {
          out[n++] = (hi << 4) | lo;
          i += 3;
          continue;
        }
        out[n++] = c;
        i++;
        continue;
      }
      if (isWsp(c)) {
        let j = i;
        while (j < data.length && isWsp(data[j])) j++;
        // Undecidable until the next chunk: the run may end the line.
        if (!final && (j >= data.length || (data[j] === 0x0d && j + 1 >= data.length))) break;
        const atEol = j >= data.length || data[j] === 0x0a || (data[j] === 0x0d && data[j + 1] === 0x0a);
        if (!atEol) {
          data.copy(out, n, i, j);
          n += j - i;
        }
        i = j;
        continue;
      }
      out[n++] = c;
      i++;
    }
    pending = Buffer.from(data.subarray(i));
    return out.subarray(0, n);
  };
  return {
    push: (chunk) => decode(pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk, false),
    end: () => {
      const rest = decode(pending, true);
      pending = Buffer.alloc(0);
      return rest;
    },
  };
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Text with every unpaired surrogate replaced by U+FFFD. The UTF-16 (and UCS-2, UTF-7) decoders
 * pass unpaired surrogates through, and such a string is not Unicode text: it cannot be written
 * as UTF-8 unchanged, and a JSON escape of one is refused by PostgreSQL.
 */
function wellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\ufffd');
}

/** Converts bytes in `charset` to a string; an unknown charset is read as UTF-8 (with U+FFFD). */
export function decodeCharset(bytes: Buffer, charset: string | undefined): string {
  const name = (charset ?? '').trim().toLowerCase();
  if (name && name !== 'utf-8' && name !== 'utf8' && name !== 'us-ascii' && iconv.encodingExists(name)) {
    return wellFormed(iconv.decode(bytes, name));
  }
  return bytes.toString('utf8');
}

/** A streaming charset converter (multi-byte sequences may be split between chunks). */
export function createCharsetDecoder(charset: string | undefined): { write(chunk: Buffer): string; end(): string } {
  const name = (charset ?? '').trim().toLowerCase();
  const known = name !== '' && iconv.encodingExists(name) ? name : 'utf-8';
  const decoder = iconv.getDecoder(known);
  // A high surrogate at the end of one chunk's text may be paired by the next chunk's: it is
  // held back until then, so that only surrogates unpaired in the whole text are replaced.
  let held = '';
  const clean = (text: string, final: boolean): string => {
    let out = held + text;
    held = '';
    const last = out.charCodeAt(out.length - 1);
    if (!final && last >= 0xd800 && last <= 0xdbff) {
      held = out.slice(-1);
      out = out.slice(0, -1);
    }
    return wellFormed(out);
  };
  return { write: (chunk) => clean(decoder.write(chunk), false), end: () => clean(decoder.end() ?? '', true) };
}

const ENCODED_WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;

function decodeWord(charset: string, encoding: string, text: string): Buffer {
  if (encoding.toUpperCase() === 'B') {
    const decoder = createBase64Decoder();
    return Buffer.concat([decoder.push(Buffer.from(text, 'latin1')), decoder.end()]);
  }
  // Q encoding (RFC 2047 4.2): '_' is a space, =XX an octet.
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '_') bytes.push(0x20);
    else if (ch === '=' && HEX[text.charCodeAt(i + 1)] >= 0 && HEX[text.charCodeAt(i + 2)] >= 0) {
      bytes.push((HEX[text.charCodeAt(i + 1)] << 4) | HEX[text.charCodeAt(i + 2)]);
      i += 2;
    } else bytes.push(text.charCodeAt(i) & 0xff);
  }
  return Buffer.from(bytes);
}

/**
 * Decodes RFC 2047 encoded words in a header value. White space between two adjacent encoded
 * words is dropped (RFC 2047 6.2); consecutive words in the same charset are joined as bytes
 * before conversion, so a multi-byte character split across words survives.
 */
export function decodeEncodedWords(value: string): string {
  let result = '';
  let last = 0;
  let run: { charset: string; bytes: Buffer[] } | null = null;
  const flushRun = () => {
    if (run) result += decodeCharset(Buffer.concat(run.bytes), run.charset.replace(/\*.*$/, ''));
    run = null;
  };
  for (const m of value.matchAll(ENCODED_WORD)) {
    const between = value.slice(last, m.index);
    const adjacent = run !== null && /^[ \t\r\n]*$/.test(between);
    if (!adjacent) {
      flushRun();
      result += between;
    }
    const charset = m[1];
    const bytes = decodeWord(charset, m[2], m[3]);
    const current = run as { charset: string; bytes: Buffer[] } | null;
    if (current && current.charset.toLowerCase() === charset.toLowerCase()) current.bytes.push(bytes);
    else {
      flushRun();
      run = { charset, bytes: [bytes] };
    }
    last = m.index + m[0].length;
  }
  flushRun();
  return result + value.slice(last);
}
