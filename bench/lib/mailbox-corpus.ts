/**
 * The messages of a benchmark mailbox: a deterministic function of the message number, so two
 * servers (and two runs) get exactly the same INBOX. Realistic headers (Received chain, varied
 * senders and subjects, replies with In-Reply-To/References, mailing-list mail), and a mix of
 * shapes: plain text, multipart/alternative (text and HTML), and multipart/mixed with a base64
 * attachment. Sizes are spread log-uniformly between 2 KB and 50 KB, so small mail is common
 * and large mail is not rare.
 *
 * Lines are CRLF-terminated, at most 76 characters, and none starts with '.', so a message goes
 * over SMTP DATA as it is.
 */
import { corpusLines, prng, rfc2822Date } from './message.js';

/** A word that appears in the body text of about one message in twenty, for SEARCH TEXT. */
export const SEARCH_WORD = 'pelican';

const MIN_SIZE = 2150;
const MAX_SIZE = 49 * 1024;
/** Message 1 is dated here; each next one a few minutes later. */
const FIRST_DATE_MS = Date.UTC(2025, 0, 6, 8, 0, 0);

const SENDERS = [
  ['Maria Lindqvist', 'maria.lindqvist@harbour-logistics.example'],
  ['Tomasz Nowak', 'tnowak@freight.example'],
  ['Aisha Okafor', 'aisha@okafor-trading.example'],
  ['Port Authority Notices', 'notices@port-authority.example'],
  ['Kenji Watanabe', 'kenji.watanabe@pacific-lines.example'],
  ['Customs Desk', 'customs-desk@borderline.example'],
  ['Lucía Fernández', 'lfernandez@atlantico.example'],
  ['GitOps Bot', 'noreply@ci.devtools.example'],
  ['Olivier Martin', 'olivier.martin@quai.example'],
  ['Priya Raman', 'priya.raman@warehouse.example'],
] as const;

const SUBJECTS = [
  'Weekly shipment summary',
  'Container manifest for vessel',
  'Invoice overdue',
  'Agenda for the quarterly budget meeting',
  'Berth schedule change',
  'Customs clearance documents',
  'Build failed on main',
  'Warehouse inventory report',
  'Delivery delayed by weather',
  'Crew roster for next month',
] as const;

const MAILERS = ['Thunderbird 128.3.0', 'Apple Mail (2.3774)', 'Microsoft Outlook 16.0', 'Roundcube Webmail/1.6.9', 'K-9 Mail 6.8'] as const;

function pick<T>(xs: readonly T[], rnd: () => number): T {
  return xs[Math.floor(rnd() * xs.length)]!;
}

/** Text lines (CRLF each) of about `bytes` bytes, starting at a message-dependent corpus line. */
function textBody(seq: number, bytes: number, rnd: () => number, withWord: boolean): string[] {
  const lines = corpusLines();
  const out: string[] = [`Message ${seq} of the benchmark mailbox.`, ''];
  let size = 0;
  let i = (Math.imul(seq + 7, 2654435761) >>> 0) % lines.length;
  const wordAt = withWord ? Math.floor(rnd() * 20) + 2 : -1;
  for (let guard = 0; size < bytes && guard < lines.length; guard++) {
    let line = lines[i]!;
    if (out.length === wordAt) line = line ? `${line} ${SEARCH_WORD}` : `The ${SEARCH_WORD} report`;
    out.push(line);
    size += line.length + 2;
    i = (i + 1) % lines.length;
  }
  if (wordAt >= out.length) out.push(`See the ${SEARCH_WORD} report.`);
  return out;
}

function base64Lines(bytes: number, rnd: () => number): string[] {
  const buf = Buffer.alloc(bytes);
  for (let i = 0; i + 4 <= bytes; i += 4) buf.writeUInt32LE(Math.floor(rnd() * 4294967296), i);
  const b64 = buf.toString('base64');
  const out: string[] = [];
  for (let i = 0; i < b64.length; i += 76) out.push(b64.slice(i, i + 76));
  return out;
}

function htmlOf(lines: string[]): string[] {
  const out = ['<html><body>'];
  for (const l of lines) out.push(l ? `<p>${l.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</p>` : '<br>');
  out.push('</body></html>');
  return out;
}

/** A multipart body's preamble and the headers of its first part, a text/plain one. */
function multipartOpening(boundary: string): string[] {
  return ['This is a multi-part message in MIME format.', '', `--${boundary}`, 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 7bit', ''];
}

/**
 * Message `seq` (1-based) of the benchmark mailbox addressed to `to`: complete, CRLF line
 * endings, ending in CRLF. The same (seq, to) always gives the same bytes.
 */
export function mailboxMessage(seq: number, to: string): string {
  const rnd = prng(0x1ab0 + seq * 7919);
  const size = Math.round(MIN_SIZE * Math.pow(MAX_SIZE / MIN_SIZE, rnd()));
  const [name, from] = pick(SENDERS, rnd);
  const date = rfc2822Date(new Date(FIRST_DATE_MS + seq * 217_000));
  const reply = rnd() < 0.25;
  const list = rnd() < 0.15;
  const shapeDraw = rnd();
  const shape = shapeDraw < 0.5 ? 'plain' : shapeDraw < 0.7 ? 'alternative' : 'attachment';
  const withWord = rnd() < 0.05;
  const host = from.split('@')[1]!;
  const msgId = `<${seq.toString(36)}.${Math.floor(rnd() * 1e9).toString(36)}@${host}>`;
  const subject = `${reply ? 'Re: ' : ''}${pick(SUBJECTS, rnd)} #${1000 + (seq % 9000)}`;

  const h: string[] = [
    `Received: from mx.${host} (mx.${host} [192.0.2.${1 + (seq % 250)}])`,
    `\tby mail.bench.test with ESMTPS id ${seq.toString(16).padStart(8, '0')}`,
    `\tfor <${to}>; ${date}`,
    `Received: from workstation.${host} ([10.1.${seq % 200}.${seq % 250}])`,
    `\tby mx.${host} with ESMTPSA; ${date}`,
    `From: "${name}" <${from}>`,
    `To: <${to}>`,
    `Subject: ${subject}`,
    `Date: ${date}`,
    `Message-ID: ${msgId}`,
  ];
  if (reply) {
    const parent = `<${(seq * 31).toString(36)}.thread@bench.test>`;
    h.push(`In-Reply-To: ${parent}`, `References: ${parent}`);
  }
  if (list) h.push('List-Id: Harbour operations <ops.lists.harbour-logistics.example>', 'List-Unsubscribe: <mailto:ops-leave@lists.harbour-logistics.example>');
  h.push(`X-Mailer: ${pick(MAILERS, rnd)}`, 'MIME-Version: 1.0');

  const boundary = `=_bench_${seq.toString(36)}_${Math.floor(rnd() * 1e9).toString(36)}`;
  let body: string[];
  if (shape === 'plain') {
    h.push('Content-Type: text/plain; charset=utf-8; format=flowed', 'Content-Transfer-Encoding: 7bit');
    body = textBody(seq, size - 750, rnd, withWord);
  } else if (shape === 'alternative') {
    h.push(`Content-Type: multipart/alternative; boundary="${boundary}"`);
    const text = textBody(seq, (size - 1000) / 2.1, rnd, withWord);
    body = [
      ...multipartOpening(boundary),
      ...text,
      `--${boundary}`,
      'Content-Type: text/html; charset=utf-8',
      'Content-Transfer-Encoding: 7bit',
      '',
      ...htmlOf(text),
      `--${boundary}--`,
    ];
  } else {
    h.push(`Content-Type: multipart/mixed; boundary="${boundary}"`);
    const textBytes = 600 + Math.floor(rnd() * 1500);
    const attachBytes = Math.max(256, Math.floor(((size - 1400 - textBytes) * 3) / 4));
    const file = `${pick(['manifest', 'invoice', 'roster', 'report'], rnd)}-${seq}.pdf`;
    body = [
      ...multipartOpening(boundary),
      ...textBody(seq, textBytes, rnd, withWord),
      `--${boundary}`,
      `Content-Type: application/pdf; name="${file}"`,
      `Content-Disposition: attachment; filename="${file}"`,
      'Content-Transfer-Encoding: base64',
      '',
      ...base64Lines(attachBytes, rnd),
      `--${boundary}--`,
    ];
  }
  return h.join('\r\n') + '\r\n\r\n' + body.join('\r\n') + '\r\n';
}

/** A small message a client saves with APPEND (as to Sent or Drafts): about 1.5 KB. */
export function appendedMessage(client: number, n: number, from: string): string {
  const lines = corpusLines();
  const date = rfc2822Date(new Date());
  const body: string[] = [];
  for (let i = 0; i < 18; i++) body.push(lines[(client * 997 + n * 31 + i) % lines.length]!);
  return (
    [
      `From: <${from}>`,
      `To: "Harbour Desk" <desk@harbour-logistics.example>`,
      `Subject: Draft ${n} from client ${client}`,
      `Date: ${date}`,
      `Message-ID: <append.${client}.${n}.${Date.now().toString(36)}@bench.test>`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      ...body,
    ].join('\r\n') + '\r\n'
  );
}
