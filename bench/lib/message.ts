/**
 * Benchmark messages: plain-text mail of a chosen size with realistic headers. Every message
 * is different (its own Message-ID, a numbered first body line and a different slice of a
 * pseudo-random text corpus), so no server can gain from storing identical bodies once.
 * Lines are CRLF-terminated, at most 76 characters, and none starts with '.', so the text
 * goes over SMTP DATA as it is (no dot-stuffing needed).
 */

const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but ' +
  'have an they you were her all she there would their we him been has when who will more no if ' +
  'out so said what up its about into than them can only other new some could time these two may ' +
  'then do first any my now such like our over man me even most made after also did many before ' +
  'must through back years where much your way well down should because each just those people ' +
  'mailbox server delivery queue message header relay transfer protocol session report invoice ' +
  'meeting schedule agenda quarterly budget shipment warehouse harbour vessel container manifest'
).split(' ');

/** Deterministic PRNG (mulberry32) so every run sends the same corpus. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CORPUS_LINES = 16_384; // about 1 MB of text
let corpus: string[] | null = null;

export function corpusLines(): string[] {
  if (corpus) return corpus;
  const rnd = prng(0x5eed);
  const lines: string[] = [];
  for (let i = 0; i < CORPUS_LINES; i++) {
    let line = '';
    const target = 40 + Math.floor(rnd() * 32);
    while (line.length < target) {
      const w = WORDS[Math.floor(rnd() * WORDS.length)]!;
      line += line ? ' ' + w : w.charAt(0).toUpperCase() + w.slice(1);
    }
    lines.push(rnd() < 0.1 ? '' : line + (rnd() < 0.3 ? '.' : ''));
  }
  corpus = lines;
  return lines;
}

export interface MessageOptions {
  from: string;
  to: string;
  /** Approximate total size in bytes (headers + body). */
  size: number;
  /** Distinguishes runs; part of the Message-ID. */
  runId: string;
  /** Message number, unique within the run. */
  seq: number;
  /** Host name of the pretend sending client, for the Received header. */
  clientHost?: string;
}

export function rfc2822Date(d: Date): string {
  // e.g. "Sat, 22 Nov 2025 22:31:07 +0000"
  const s = d.toUTCString(); // "Sat, 22 Nov 2025 22:31:07 GMT"
  return s.replace(/GMT$/, '+0000');
}

/** One complete message (headers and body), CRLF line endings, ending in CRLF. */
export function makeMessage(o: MessageOptions): string {
  const now = new Date();
  const date = rfc2822Date(now);
  const client = o.clientHost ?? 'client.sender.example';
  const headers =
    `Received: from ${client} (${client} [127.0.0.1])\r\n` +
    `\tby ${client} with ESMTP id ${o.runId}${o.seq.toString(36)}\r\n` +
    `\tfor <${o.to}>; ${date}\r\n` +
    `From: "Harbour Reports" <${o.from}>\r\n` +
    `To: <${o.to}>\r\n` +
    `Subject: Benchmark message ${o.seq} - weekly shipment summary\r\n` +
    `Date: ${date}\r\n` +
    `Message-ID: <${o.runId}.${o.seq}@${client}>\r\n` +
    `MIME-Version: 1.0\r\n` +
    `Content-Type: text/plain; charset=utf-8; format=flowed\r\n` +
    `Content-Transfer-Encoding: 7bit\r\n` +
    `X-Mailer: wharf-bench\r\n` +
    `\r\n`;
  const lines = corpusLines();
  let body = `Message ${o.seq} of run ${o.runId}.\r\n\r\n`;
  const want = Math.max(0, o.size - headers.length);
  // Start at a position derived from the sequence number so bodies differ between messages.
  let i = (Math.imul(o.seq + 1, 2654435761) >>> 0) % lines.length;
  for (let guard = 0; body.length < want && guard < lines.length; guard++) {
    body += lines[i]! + '\r\n';
    i = (i + 1) % lines.length;
  }
  return headers + body;
}
