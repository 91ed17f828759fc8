/**
 * The IMAP ENVELOPE of a header block (RFC 9051 7.5.2): raw field values and address lists
 * split into (name adl mailbox host), groups as start and end markers. Malformed addresses are
 * reported the way Dovecot reports them (MISSING_MAILBOX / MISSING_DOMAIN placeholders).
 */
import type { Envelope, EnvelopeAddress } from './analysis.js';
import { firstField, type HeaderField } from './header-fields.js';

type Token = { kind: 'atom' | 'quoted' | 'comment' | 'literal'; text: string } | { kind: 'special'; text: string };

function tokenize(value: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < value.length) {
    const ch = value[i];
    if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n') {
      i++;
    } else if (ch === '"') {
      let text = '';
      i++;
      while (i < value.length && value[i] !== '"') {
        if (value[i] === '\\' && i + 1 < value.length) i++;
        text += value[i++];
      }
      i++;
      tokens.push({ kind: 'quoted', text });
    } else if (ch === '(') {
      let depth = 0;
      let text = '';
      while (i < value.length) {
        const c = value[i++];
        if (c === '\\' && i < value.length) {
          text += value[i++];
          continue;
        }
        if (c === '(' && depth++ === 0) continue;
        if (c === ')' && --depth === 0) break;
        text += c;
      }
      tokens.push({ kind: 'comment', text });
    } else if (ch === '[') {
      const end = value.indexOf(']', i);
      const stop = end < 0 ? value.length : end + 1;
      tokens.push({ kind: 'literal', text: value.slice(i, stop) });
      i = stop;
    } else if ('<>,:;@.'.includes(ch)) {
      tokens.push({ kind: 'special', text: ch });
      i++;
    } else {
      const start = i;
      while (i < value.length && !' \t\r\n"(<>,:;@.['.includes(value[i])) i++;
      tokens.push({ kind: 'atom', text: value.slice(start, i) });
    }
  }
  return tokens;
}

const isWord = (t: Token | undefined) => t !== undefined && (t.kind === 'atom' || t.kind === 'quoted');

/** Parses an address-list (with groups, route addresses, obsolete and sloppy forms). */
export function parseAddressList(value: string): EnvelopeAddress[] {
  const tokens = tokenize(value);
  const out: EnvelopeAddress[] = [];
  let pos = 0;
  let inGroup = false;

  /** Reads one mailbox up to (not including) ',' ';' or the end. */
  const mailbox = (): EnvelopeAddress | null => {
    const phrase: string[] = [];
    let comment: string | null = null;
    const local: string[] = [];
    let domain: string[] = [];
    let adl: string | null = null;
    let angle = false;
    let sawAt = false;
    const start = pos;
    while (pos < tokens.length) {
      const t = tokens[pos];
      if (t.kind === 'special' && (t.text === ',' || t.text === ';')) break;
      if (t.kind === 'special' && t.text === ':' && !angle) break;
      pos++;
      if (t.kind === 'comment') {
        if (comment === null) comment = t.text;
        continue;
      }
      if (t.kind === 'special' && t.text === '<') {
        angle = true;
        // Everything before '<' was the display name.
        phrase.push(...local.splice(0));
        if (sawAt) phrase.push('@', ...domain);
        domain = [];
        sawAt = false;
        // Obsolete route: <@a,@b:user@host>.
        if (tokens[pos]?.text === '@') {
          let route = '';
          while (pos < tokens.length && tokens[pos].text !== ':' && tokens[pos].text !== '>') route += tokens[pos++].text;
          if (tokens[pos]?.text === ':') {
            adl = route;
            pos++;
          }
        }
        continue;
      }
      if (t.kind === 'special' && t.text === '>') {
        angle = false;
        continue;
      }
      if (t.kind === 'special' && t.text === '@') {
        sawAt = true;
        continue;
      }
      if (sawAt) domain.push(t.text);
      else if (t.kind === 'special' && t.text === '.') local.push('.');
      else local.push(t.text);
    }
    if (pos === start) return null;
    const joinDotted = (parts: string[]) => parts.join('').replace(/\s+/g, '');
    // Display-name words are joined with single spaces (quoted strings unquoted); an obsolete
    // '.' in a phrase sticks to the word before it ("Joe Q. Public").
    const name = phrase.length > 0 ? phrase.reduce((acc, w) => (w === '.' || acc === '' ? acc + w : `${acc} ${w}`), '') : comment;
    let localPart = joinDotted(local);
    if (!angle && !sawAt && phrase.length === 0 && local.length > 1 && !local.includes('.')) {
      // "Joe Public" without an address: treat as a display name with no mailbox.
      localPart = local.join(' ');
    }
    return {
      name: name && name.length > 0 ? name : null,
      adl,
      mailbox: localPart === '' ? 'MISSING_MAILBOX' : localPart,
      // Dovecot's placeholders for what a broken address lacks.
      host: angle ? 'SYNTAX_ERROR' : domain.length > 0 ? joinDotted(domain) : 'MISSING_DOMAIN',
    };
  };

  while (pos < tokens.length) {
    const t = tokens[pos];
    if (t.kind === 'special' && t.text === ',') {
      pos++;
      // An empty element between two commas is reported as an address missing both halves.
      if (tokens[pos]?.text === ',') out.push({ name: null, adl: null, mailbox: 'MISSING_MAILBOX', host: 'MISSING_DOMAIN' });
      continue;
    }
    if (t.kind === 'special' && t.text === ';') {
      pos++;
      if (inGroup) {
        out.push({ name: null, adl: null, mailbox: null, host: null });
        inGroup = false;
      }
      continue;
    }
    // A group starts with a phrase followed by ':'.
    let look = pos;
    while (look < tokens.length && (isWord(tokens[look]) || tokens[look].kind === 'comment' || tokens[look].text === '.')) look++;
    if (!inGroup && look > pos && tokens[look]?.text === ':') {
      const name = tokens
        .slice(pos, look)
        .filter((x) => isWord(x))
        .map((x) => x.text)
        .join(' ');
      out.push({ name: null, adl: null, mailbox: name, host: null });
      inGroup = true;
      pos = look + 1;
      continue;
    }
    const m = mailbox();
    if (m) out.push(m);
    else pos++;
  }
  if (inGroup) out.push({ name: null, adl: null, mailbox: null, host: null });
  return out;
}

/** Unfolded raw value for ENVELOPE string fields. */
function rawField(fields: HeaderField[], name: string): string | null {
  const v = firstField(fields, name);
  return v === undefined ? null : v;
}

function addressField(fields: HeaderField[], name: string): EnvelopeAddress[] | null {
  const v = firstField(fields, name);
  if (v === undefined) return null;
  const list = parseAddressList(v);
  return list.length > 0 ? list : null;
}

export function buildEnvelope(fields: HeaderField[]): Envelope {
  const from = addressField(fields, 'from');
  return {
    date: rawField(fields, 'date'),
    subject: rawField(fields, 'subject'),
    from,
    // RFC 9051 7.5.2: an absent Sender or Reply-To defaults to From.
    sender: addressField(fields, 'sender') ?? from,
    replyTo: addressField(fields, 'reply-to') ?? from,
    to: addressField(fields, 'to'),
    cc: addressField(fields, 'cc'),
    bcc: addressField(fields, 'bcc'),
    inReplyTo: rawField(fields, 'in-reply-to'),
    messageId: rawField(fields, 'message-id'),
  };
}
