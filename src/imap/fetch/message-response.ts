/**
 * One `* n FETCH (...)` response. Small items are formatted as text; body sections are
 * written as literals whose bytes stream from the store, so a 20 MB attachment passes through
 * in chunks and is never held whole.
 */
import { filterHeaderFields, findPart } from '../../mime/sections.js';
import { createTransferDecoder } from '../../mime/decode.js';
import type { MessageStructure } from '../../mime/analysis.js';
import type { MailboxEntry, Store } from '../../store/types.js';
import { formatBodyStructure } from '../format/bodystructure.js';
import { formatEnvelope } from '../format/envelope.js';
import { formatFlags } from '../flags.js';
import { formatDateTime } from '../grammar.js';
import type { FetchItem, Partial } from '../protocol/types.js';
import type { ResponseWriter } from '../response-writer.js';
import { sectionLabel, sectionRange } from './section.js';

export interface FetchContext {
  store: Store;
  out: ResponseWriter;
  recent: boolean;
  /** Include UID (UID FETCH) and MODSEQ (CONDSTORE active) even when not asked. */
  withUid: boolean;
  withModseq: boolean;
  /** Add FLAGS: they changed by an implicit \Seen. */
  withFlags: boolean;
}

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

function clip(total: number, partial?: Partial): { start: number; length: number } {
  if (!partial) return { start: 0, length: total };
  const start = Math.min(partial.offset, total);
  return { start, length: Math.max(0, Math.min(partial.length, total - start)) };
}

const SMALL_ITEMS = new Set(['UID', 'FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'MODSEQ']);

/** True when every item is answered from the entry alone (no structure, no body bytes). */
export function onlySmallItems(items: FetchItem[]): boolean {
  return items.every((i) => SMALL_ITEMS.has(i.kind));
}

/** Per-message facts a small FETCH line depends on besides the entry. */
export type SmallFetchContext = Pick<FetchContext, 'recent' | 'withFlags' | 'withModseq'>;

/**
 * Builds the formatter of whole `* n FETCH (...)` lines for items answered from the entry
 * alone, once per command: `UID FETCH 1:* (FLAGS)` on a 100,000-message mailbox is then a loop
 * of string joins, not of item dispatch, awaits and socket writes.
 */
export function smallFetchFormatter(items: FetchItem[], withUid: boolean): (ctx: SmallFetchContext, seq: number, e: MailboxEntry) => string {
  const kinds = items.map((i) => i.kind);
  const addUid = withUid && !kinds.includes('UID');
  const hasFlags = kinds.includes('FLAGS');
  const hasModseq = kinds.includes('MODSEQ');
  return (ctx, seq, e) => {
    let line = `* ${seq} FETCH (`;
    let sep = '';
    if (addUid) {
      line += `UID ${e.uid}`;
      sep = ' ';
    }
    for (const kind of kinds) {
      switch (kind) {
        case 'UID':
          line += `${sep}UID ${e.uid}`;
          break;
        case 'FLAGS':
          line += `${sep}FLAGS ${formatFlags(e.flags, ctx.recent)}`;
          break;
        case 'INTERNALDATE':
          line += `${sep}INTERNALDATE "${formatDateTime(e.internalDate)}"`;
          break;
        case 'RFC822.SIZE':
          line += `${sep}RFC822.SIZE ${e.size}`;
          break;
        case 'MODSEQ':
          line += `${sep}MODSEQ (${e.modseq})`;
          break;
        default:
          continue;
      }
      sep = ' ';
    }
    if (ctx.withFlags && !hasFlags) {
      line += `${sep}FLAGS ${formatFlags(e.flags, ctx.recent)}`;
      sep = ' ';
    }
    if (ctx.withModseq && !hasModseq) line += `${sep}MODSEQ (${e.modseq})`;
    return line + ')\r\n';
  };
}

export class MessageFetcher {
  private structure: MessageStructure | null | undefined;

  constructor(
    private readonly ctx: FetchContext,
    private readonly seq: number,
    private readonly entry: MailboxEntry,
  ) {}

  private async getStructure(): Promise<MessageStructure> {
    if (this.structure === undefined) this.structure = await this.ctx.store.getStructure(this.entry.messageId);
    if (!this.structure) throw new Error(`message ${this.entry.messageId} has no stored structure`);
    return this.structure;
  }

  async write(items: FetchItem[]): Promise<void> {
    const { out, withUid, withModseq, withFlags } = this.ctx;
    const e = this.entry;
    out.raw(`* ${this.seq} FETCH (`);
    let first = true;
    const sep = () => {
      if (!first) out.raw(' ');
      first = false;
    };
    const kinds = new Set(items.map((i) => i.kind));
    if (withUid && !kinds.has('UID')) {
      sep();
      out.raw(`UID ${e.uid}`);
    }
    for (const item of items) {
      sep();
      await this.writeItem(item);
    }
    if (withFlags && !kinds.has('FLAGS')) {
      sep();
      out.raw(`FLAGS ${formatFlags(e.flags, this.ctx.recent)}`);
    }
    if (withModseq && !kinds.has('MODSEQ')) {
      sep();
      out.raw(`MODSEQ (${e.modseq})`);
    }
    out.raw(')\r\n');
  }

  private async writeItem(item: FetchItem): Promise<void> {
    const { out } = this.ctx;
    const e = this.entry;
    switch (item.kind) {
      case 'UID':
        return out.raw(`UID ${e.uid}`);
      case 'FLAGS':
        return out.raw(`FLAGS ${formatFlags(e.flags, this.ctx.recent)}`);
      case 'INTERNALDATE':
        return out.raw(`INTERNALDATE "${formatDateTime(e.internalDate)}"`);
      case 'RFC822.SIZE':
        return out.raw(`RFC822.SIZE ${e.size}`);
      case 'MODSEQ':
        return out.raw(`MODSEQ (${e.modseq})`);
      case 'ENVELOPE':
        return out.raw(`ENVELOPE ${formatEnvelope((await this.getStructure()).envelope)}`);
      case 'BODYSTRUCTURE':
        return out.raw(`BODYSTRUCTURE ${formatBodyStructure((await this.getStructure()).root, true)}`);
      case 'BODY':
        return out.raw(`BODY ${formatBodyStructure((await this.getStructure()).root, false)}`);
      case 'RFC822':
        return this.writeRange('RFC822', 0, e.size);
      case 'RFC822.HEADER': {
        const root = (await this.getStructure()).root;
        return this.writeRange('RFC822.HEADER', root.headerStart, root.bodyStart);
      }
      case 'RFC822.TEXT': {
        const root = (await this.getStructure()).root;
        return this.writeRange('RFC822.TEXT', root.bodyStart, e.size);
      }
      case 'BODY[]':
        return this.writeSection(item);
      case 'BINARY':
        return this.writeBinary(item.part, item.partial);
      case 'BINARY.SIZE': {
        const size = await this.binarySize(item.part);
        return out.raw(`BINARY.SIZE[${item.part.join('.')}] ${size}`);
      }
    }
  }

  private async writeSection(item: Extract<FetchItem, { kind: 'BODY[]' }>): Promise<void> {
    const { section, partial } = item;
    const label = `BODY[${sectionLabel(section)}]${partial ? `<${partial.offset}>` : ''}`;
    if (section.part.length === 0 && !section.text) {
      const { start, length } = clip(this.entry.size, partial);
      return this.writeRange(label, start, start + length);
    }
    const range = sectionRange(await this.getStructure(), section);
    if (!range) {
      // A section that does not exist is empty (RFC 9051 6.4.5 leaves it to the server; Dovecot does this).
      this.ctx.out.raw(`${label} ""`);
      return;
    }
    if (section.text === 'HEADER.FIELDS' || section.text === 'HEADER.FIELDS.NOT') {
      const header = await collect(this.ctx.store.readBody(this.entry.messageId, range));
      const filtered = filterHeaderFields(header, section.fields ?? [], section.text === 'HEADER.FIELDS.NOT');
      const { start, length } = clip(filtered.length, partial);
      this.ctx.out.raw(`${label} {${length}}\r\n`);
      this.ctx.out.raw(filtered.subarray(start, start + length));
      return;
    }
    const { start, length } = clip(range.end - range.start, partial);
    return this.writeRange(label, range.start + start, range.start + start + length);
  }

  /** A literal of bytes [start, end) of the stored message, streamed. */
  private async writeRange(label: string, start: number, end: number): Promise<void> {
    const { out } = this.ctx;
    const length = Math.max(0, end - start);
    out.raw(`${label} {${length}}\r\n`);
    if (length === 0) return;
    const written = await out.stream(this.ctx.store.readBody(this.entry.messageId, { start, end }));
    if (written !== length) throw new Error(`body of message ${this.entry.messageId} is shorter than recorded`);
  }

  private async binarySize(path: number[]): Promise<number> {
    if (path.length === 0) return this.entry.size;
    const part = findPart(await this.getStructure(), path);
    if (!part || part.children) return 0;
    return part.decodedSize;
  }

  /** BINARY[part]: the part's body with its transfer encoding undone (RFC 3516). */
  private async writeBinary(path: number[], partial?: Partial): Promise<void> {
    const { out } = this.ctx;
    const label = `BINARY[${path.join('.')}]${partial ? `<${partial.offset}>` : ''}`;
    if (path.length === 0) {
      const { start, length } = clip(this.entry.size, partial);
      return this.writeRange(label, start, start + length);
    }
    const part = findPart(await this.getStructure(), path);
    if (!part || part.children) {
      out.raw(`${label} ""`);
      return;
    }
    const { start, length } = clip(part.decodedSize, partial);
    out.raw(`${label} ~{${length}}\r\n`);
    if (length === 0) return;
    const decoder = createTransferDecoder(part.encoding);
    let position = 0;
    let sent = 0;
    const emit = async (bytes: Buffer) => {
      const from = Math.max(0, start - position);
      const to = Math.min(bytes.length, start + length - position);
      position += bytes.length;
      if (to > from) {
        await out.rawWait(bytes.subarray(from, to));
        sent += to - from;
      }
    };
    for await (const chunk of this.ctx.store.readBody(this.entry.messageId, { start: part.bodyStart, end: part.bodyEnd })) {
      await emit(decoder.push(chunk));
      if (sent >= length) break;
    }
    if (sent < length) await emit(decoder.end());
    if (sent !== length) throw new Error(`decoded part of message ${this.entry.messageId} is not its recorded size`);
  }
}
