/**
 * The first address of an address header (From, To, Cc), for SORT's FROM/TO/CC keys
 * (RFC 5256: its addr-mailbox) and DISPLAYFROM/DISPLAYTO (RFC 5957: its display name, else
 * its addr-spec). Lenient: comments are dropped, groups are opened, junk yields null.
 */

export interface FirstAddress {
  /** Display name, unquoted; '' when there is none. */
  name: string;
  /** addr-mailbox: the local part. */
  mailbox: string;
  /** The domain; '' when there is none. */
  host: string;
}

/** The header without (comments), quoted strings kept intact. */
function stripComments(value: string): string {
  let out = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\' && (quoted || depth > 0)) {
      if (depth === 0) out += c + (value[i + 1] ?? '');
      i++;
    } else if (quoted) {
      out += c;
      if (c === '"') quoted = false;
    } else if (c === '(') depth++;
    else if (c === ')' && depth > 0) depth--;
    else if (depth === 0) {
      out += c;
      if (c === '"') quoted = true;
    }
  }
  return out;
}

/** Splits at the commas (and group colons/semicolons) that are not quoted or in <...>. */
function splitAddresses(value: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  let angle = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted) {
      current += c;
      if (c === '\\') current += value[++i] ?? '';
      else if (c === '"') quoted = false;
      continue;
    }
    if (c === '"') quoted = true;
    else if (c === '<') angle = true;
    else if (c === '>') angle = false;
    else if (!angle && (c === ',' || c === ';' || (c === ':' && !current.includes('@')))) {
      // A group's display name ends with ':'; its members follow.
      if (c !== ':') parts.push(current);
      current = '';
      continue;
    }
    current += c;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

function unquote(text: string): string {
  const t = text.trim();
  if (t.length >= 2 && t.startsWith('"') && t.endsWith('"')) return t.slice(1, -1).replace(/\\(.)/g, '$1');
  return t;
}

/** The first address in an address header, or null if there is none. */
export function firstAddress(header: string | null | undefined, decodeText: (raw: string) => string = (s) => s): FirstAddress | null {
  if (!header) return null;
  for (const part of splitAddresses(stripComments(header))) {
    const angle = /^(.*?)<([^>]*)>/.exec(part);
    const spec = (angle ? angle[2] : part).replace(/^(@[^:]*:)/, '').trim();
    if (spec === '') continue;
    const at = spec.lastIndexOf('@');
    const mailbox = unquote(at < 0 ? spec : spec.slice(0, at));
    const host = at < 0 ? '' : spec.slice(at + 1).trim();
    return { name: angle ? decodeText(unquote(angle[1])) : '', mailbox, host };
  }
  return null;
}

/** RFC 5957: the display name if there is one, else the addr-spec. */
export function displayOf(address: FirstAddress | null): string {
  if (!address) return '';
  if (address.name !== '') return address.name;
  return address.host === '' ? address.mailbox : `${address.mailbox}@${address.host}`;
}
