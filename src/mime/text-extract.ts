/**
 * Collects the searchable text of a message's text/* parts: transfer-decoded bytes in, UTF-8
 * text out, HTML reduced to its text, all under one byte budget.
 */
import { createCharsetDecoder } from './decode.js';

/** Shared budget and output of all the text parts of one message. */
export class TextBudget {
  private readonly pieces: string[] = [];
  private bytes = 0;
  truncated = false;

  constructor(private readonly limit: number) {}

  get full(): boolean {
    return this.truncated;
  }

  /** Starts a new part's text (parts are joined by "\n"). */
  startPart(): void {
    if (this.pieces.length > 0) this.add('\n');
  }

  add(text: string): void {
    if (this.truncated || text.length === 0) return;
    const size = Buffer.byteLength(text);
    if (this.bytes + size <= this.limit) {
      this.pieces.push(text);
      this.bytes += size;
      return;
    }
    // Cut on a character boundary within the budget.
    const room = this.limit - this.bytes;
    const cut = Buffer.from(text).subarray(0, room).toString('utf8').replace(/\uFFFD$/, '');
    this.pieces.push(cut);
    this.bytes += Buffer.byteLength(cut);
    this.truncated = true;
  }

  text(): string {
    return this.pieces.join('');
  }
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };
/** Latin-1 letters by entity name (&eacute; &Uuml; ...), the ones mail HTML uses most. */
const ACCENTS: Record<string, string> = { grave: '\u0300', acute: '\u0301', circ: '\u0302', tilde: '\u0303', uml: '\u0308', ring: '\u030a', cedil: '\u0327' };

/**
 * A crude streaming HTML-to-text filter: drops tags, comments and the content of <script> and
 * <style>, turns a few entities into characters. Not a sanitiser; only for indexing.
 */
class HtmlText {
  private inTag = false;
  private tag = '';
  private skipUntil: string | null = null;
  private entity: string | null = null;

  push(text: string): string {
    let out = '';
    for (const ch of text) {
      if (this.inTag) {
        if (ch === '>') {
          this.inTag = false;
          const name = /^\/?\s*([a-zA-Z0-9]+)/.exec(this.tag)?.[1]?.toLowerCase() ?? '';
          const closing = this.tag.trimStart().startsWith('/');
          if (this.skipUntil !== null) {
            if (closing && name === this.skipUntil) this.skipUntil = null;
          } else if (!closing && (name === 'script' || name === 'style')) this.skipUntil = name;
          else if (/^(br|p|div|tr|li|h[1-6])$/.test(name)) out += ' ';
          this.tag = '';
        } else if (this.tag.length < 64) this.tag += ch;
        continue;
      }
      if (ch === '<') {
        this.inTag = true;
        continue;
      }
      if (this.skipUntil !== null) continue;
      if (this.entity !== null) {
        if (ch === ';' || this.entity.length > 10) {
          out += decodeEntity(this.entity) ?? `&${this.entity}${ch}`;
          this.entity = null;
        } else this.entity += ch;
        continue;
      }
      if (ch === '&') {
        this.entity = '';
        continue;
      }
      out += ch;
    }
    return out;
  }
}

function decodeEntity(name: string): string | null {
  if (name.startsWith('#')) {
    const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
    return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : null;
  }
  if (ENTITIES[name.toLowerCase()]) return ENTITIES[name.toLowerCase()];
  if (name === 'szlig') return 'ß';
  const accent = /^([a-zA-Z])(grave|acute|circ|tilde|uml|ring|cedil)$/.exec(name);
  return accent ? (accent[1] + ACCENTS[accent[2]]).normalize('NFC') : null;
}

/** The text sink of one text/* part. */
export class PartText {
  private readonly decoder;
  private readonly html: HtmlText | null;

  constructor(
    private readonly budget: TextBudget,
    charset: string | undefined,
    subtype: string,
  ) {
    this.decoder = createCharsetDecoder(charset);
    this.html = subtype === 'html' ? new HtmlText() : null;
    budget.startPart();
  }

  push(decoded: Buffer): void {
    if (this.budget.full || decoded.length === 0) return;
    this.emit(this.decoder.write(decoded));
  }

  end(): void {
    if (!this.budget.full) this.emit(this.decoder.end());
  }

  private emit(text: string): void {
    // Line ends as "\n"; a CR split from its LF by a chunk end is simply dropped too.
    const plain = text.replace(/\r/g, '');
    this.budget.add(this.html ? this.html.push(plain) : plain);
  }
}
