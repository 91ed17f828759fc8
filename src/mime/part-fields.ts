/**
 * What a part's header block says about the part: the Content-* fields (RFC 2045, 2183, 3282)
 * read into a MimePart, with the defaults RFC 2045 and RFC 2046 give.
 */
import type { MimePart } from './analysis.js';
import { firstField, parseContentType, parseDisposition, parseLanguages, parseToken, type HeaderField } from './header-fields.js';

/** A part with every field at its default, its body not yet seen. */
export function newPart(headerStart: number): MimePart {
  return {
    headerStart,
    bodyStart: headerStart,
    bodyEnd: headerStart,
    bodyLines: 0,
    type: 'text',
    subtype: 'plain',
    params: {},
    id: null,
    description: null,
    md5: null,
    location: null,
    encoding: '7bit',
    disposition: null,
    language: null,
    decodedSize: 0,
  };
}

/**
 * Fills `part` from its header fields. Content-* fields count when the header has MIME-Version
 * or Content-Type, and always in a multipart's child (`mimeChild`); without a Content-Type a
 * part is text/plain, or message/rfc822 inside a multipart/digest (`inDigest`).
 */
export function readContentFields(part: MimePart, fields: HeaderField[], mimeChild: boolean, inDigest: boolean): void {
  const isMime = mimeChild || firstField(fields, 'mime-version') !== undefined || firstField(fields, 'content-type') !== undefined;
  const get = (name: string) => (isMime ? firstField(fields, name) : undefined);
  const ctValue = get('content-type');
  const ct = ctValue === undefined ? null : parseContentType(ctValue);
  if (ct) {
    part.type = ct.type.toLowerCase();
    part.subtype = ct.subtype.toLowerCase();
    part.params = ct.params;
  } else if (inDigest) {
    part.type = 'message';
    part.subtype = 'rfc822';
  }
  const cte = get('content-transfer-encoding');
  part.encoding = (cte !== undefined ? parseToken(cte) : null) ?? '7bit';
  part.id = get('content-id') ?? null;
  part.description = get('content-description') ?? null;
  part.md5 = get('content-md5') ?? null;
  part.location = get('content-location') ?? null;
  const lang = get('content-language');
  part.language = lang === undefined ? null : parseLanguages(lang);
  const dispValue = get('content-disposition');
  const disp = dispValue === undefined ? null : parseDisposition(dispValue);
  part.disposition = disp ? { type: disp.type.toLowerCase(), params: disp.params } : null;
  part.reported = {
    type: ct?.type ?? null,
    subtype: ct?.subtype ?? null,
    params: ct?.reportedParams ?? [],
    disposition: disp ? { type: disp.type, params: disp.reportedParams } : null,
  };
}
