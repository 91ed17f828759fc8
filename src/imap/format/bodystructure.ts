/**
 * The BODY and BODYSTRUCTURE fetch items (RFC 9051 7.5.2) in the exact form Dovecot writes
 * them: media types, parameter names and the transfer encoding in their original case, RFC 2231
 * continuations joined but not decoded, a default ("charset" "us-ascii") for text parts, line
 * counts for text/* and message/rfc822, and the extension data for BODYSTRUCTURE.
 */
import type { MimePart } from '../../mime/analysis.js';
import { formatEnvelope } from './envelope.js';
import { nstring, quoteString } from './strings.js';

/** What Dovecot writes for a multipart without any part (RFC 9051 requires at least one). */
const EMPTY_PART = '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0)';

function paramList(params: [string, string][]): string {
  return params.map(([name, value]) => `${quoteString(name)} ${quoteString(value)}`).join(' ');
}

/** The reported fields, or ones rebuilt from the normalised values for older stored data. */
function reportedOf(part: MimePart) {
  return (
    part.reported ?? {
      type: part.type,
      subtype: part.subtype,
      params: Object.entries(part.params),
      disposition: part.disposition ? { type: part.disposition.type, params: Object.entries(part.disposition.params) } : null,
    }
  );
}

function extensionTail(part: MimePart): string {
  const reported = reportedOf(part);
  const disposition = reported.disposition
    ? `(${quoteString(reported.disposition.type)} ${reported.disposition.params.length > 0 ? `(${paramList(reported.disposition.params)})` : 'NIL'})`
    : 'NIL';
  const language = part.language && part.language.length > 0 ? `(${part.language.map(quoteString).join(' ')})` : 'NIL';
  return `${disposition} ${language} ${nstring(part.location)}`;
}

function isEncapsulated(part: MimePart): boolean {
  return part.message !== undefined;
}

function formatPart(part: MimePart, extensible: boolean): string {
  const reported = reportedOf(part);
  if (part.type === 'multipart') {
    const children = part.children && part.children.length > 0 ? part.children.map((c) => formatPart(c, extensible)).join('') : EMPTY_PART;
    let out = `(${children} ${quoteString(reported.subtype ?? 'x-unknown')}`;
    if (extensible) {
      const params = reported.params.length > 0 ? `(${paramList(reported.params)})` : 'NIL';
      out += ` ${params} ${extensionTail(part)}`;
    }
    return out + ')';
  }

  let typeFields: string;
  let text = false;
  if (part.type === 'message' && part.subtype === 'rfc822') {
    // Dovecot writes this one in lower case whatever the header says (also a digest's default).
    typeFields = '"message" "rfc822"';
  } else {
    text = reported.type === null || reported.type.toLowerCase() === 'text';
    const type = reported.type ?? 'text';
    const subtype = reported.subtype ?? (text ? 'plain' : 'unknown');
    typeFields = `${quoteString(type)} ${quoteString(subtype)}`;
  }
  let params = [...reported.params];
  // Dovecot adds the RFC 2045 default charset to a text part that names none.
  if (text && !params.some(([n]) => n.toLowerCase() === 'charset')) params = [...params, ['charset', 'us-ascii']];
  const paramText = params.length === 0 ? 'NIL' : `(${paramList(params)})`;
  let out = `(${typeFields} ${paramText} ${nstring(part.id)} ${nstring(part.description)} ${quoteString(part.encoding)} ${part.bodyEnd - part.bodyStart}`;
  if (text) out += ` ${part.bodyLines}`;
  else if (isEncapsulated(part)) {
    const { envelope, root } = part.message!;
    out += ` ${formatEnvelope(envelope)} ${formatPart(root, extensible)} ${part.bodyLines}`;
  }
  if (extensible) out += ` ${nstring(part.md5)} ${extensionTail(part)}`;
  return out + ')';
}

/** BODYSTRUCTURE (`extensible`) or BODY of a message, given its root part. */
export function formatBodyStructure(root: MimePart, extensible: boolean): string {
  return formatPart(root, extensible);
}
