/**
 * Recorded client sessions (the JSON files in sessions/) and their wire form.
 *
 * A step in a file is one of:
 *   "LINE"                                  a command line; CRLF is added
 *   { "raw": "BYTES" }                      sent as it is (a DATA body, say)
 *   { "starttls": "LINE" }                  the command; on a positive reply the session goes on in TLS
 *   { "sized": "LINE {n}", "data": "..." }  a line announcing the size of the data after it (IMAP
 *                                           literal, BDAT chunk): {n} is the data's length;
 *                                           "continuation": wait for the server's "+" first;
 *                                           "then": bytes after the data (the rest of the command)
 *   { "idle": "LINE" }                      IMAP IDLE: the command, a short wait, then DONE
 *   { "ftpData": "PASV"|"EPSV", "command": "LINE", "upload"?: "..." }
 *                                           an FTP transfer over the data connection the reply names
 * ${user} ${pass} ${plain} ${user64} ${pass64} stand for the fuzz account (plain: SASL PLAIN).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export type Service = 'smtp' | 'submission' | 'submissions' | 'pop3' | 'pop3s' | 'imap' | 'imaps' | 'ftp' | 'ftps';

/** Services whose connection is TLS from the first byte. */
export const IMPLICIT_TLS: ReadonlySet<Service> = new Set(['submissions', 'pop3s', 'imaps', 'ftps']);

/** The protocol a service speaks (what --protocol selects). */
export function protocolOf(service: Service): string {
  const base = service.replace(/s$/, '');
  return base === 'submission' ? 'smtp' : base;
}

type FileStep =
  | string
  | { raw: string }
  | { starttls: string }
  | { sized: string; data: string; continuation?: boolean; then?: string }
  | { idle: string }
  | { ftpData: string; command: string; upload?: string };

export type Delivery = { kind: 'whole' } | { kind: 'split'; at: number[] } | { kind: 'trickle'; gapMs: number };

export interface WireStep {
  kind: 'line' | 'raw' | 'starttls' | 'sized' | 'idle' | 'ftpData';
  /** The line (without its end), the raw bytes, or the PASV/EPSV command. */
  text: Buffer;
  /** Line end sent after `text` (CRLF unless mutated; raw steps have none). */
  eol: Buffer;
  /** sized: the data; ftpData: the upload. */
  data?: Buffer;
  /** sized: the size announced, when a mutation made it differ from the data's length. */
  announced?: string;
  continuation?: boolean;
  then?: Buffer;
  /** ftpData: the transfer command. */
  command?: Buffer;
  delivery: Delivery;
}

export interface WireSession {
  name: string;
  service: Service;
  steps: WireStep[];
  /** What was done to it (empty for the recording itself). */
  mutations: string[];
}

export interface Account {
  user: string;
  pass: string;
}

const CRLF = Buffer.from('\r\n');

function expand(text: string, account: Account): string {
  const plain = Buffer.from(`\0${account.user}\0${account.pass}`).toString('base64');
  return text
    .replaceAll('${user}', account.user)
    .replaceAll('${pass}', account.pass)
    .replaceAll('${plain}', plain)
    .replaceAll('${user64}', Buffer.from(account.user).toString('base64'))
    .replaceAll('${pass64}', Buffer.from(account.pass).toString('base64'));
}

function toWire(step: FileStep, account: Account): WireStep {
  const b = (s: string) => Buffer.from(expand(s, account), 'utf8');
  const whole: Delivery = { kind: 'whole' };
  if (typeof step === 'string') return { kind: 'line', text: b(step), eol: CRLF, delivery: whole };
  if ('raw' in step) return { kind: 'raw', text: b(step.raw), eol: Buffer.alloc(0), delivery: whole };
  if ('starttls' in step) return { kind: 'starttls', text: b(step.starttls), eol: CRLF, delivery: whole };
  if ('sized' in step) {
    return { kind: 'sized', text: b(step.sized), eol: CRLF, data: b(step.data), continuation: step.continuation, then: step.then ? b(step.then) : undefined, delivery: whole };
  }
  if ('idle' in step) return { kind: 'idle', text: b(step.idle), eol: CRLF, delivery: whole };
  return { kind: 'ftpData', text: b(step.ftpData), eol: CRLF, command: b(step.command), data: step.upload !== undefined ? b(step.upload) : undefined, delivery: whole };
}

/** The folder of the recorded sessions (next to this module's source, also when run from dist/). */
export function sessionsDir(fromDir: string): string {
  // dist/fuzz/wire -> fuzz/wire/sessions at the repository root
  const candidates = [join(fromDir, 'sessions'), join(fromDir, '..', '..', '..', 'fuzz', 'wire', 'sessions')];
  for (const dir of candidates) {
    try {
      if (readdirSync(dir).some((f) => f.endsWith('.json'))) return dir;
    } catch {
      // not here
    }
  }
  throw new Error(`recorded sessions not found (looked in ${candidates.join(', ')})`);
}

export function loadSessions(dir: string, account: Account): WireSession[] {
  const out: WireSession[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const parsed = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { sessions: { name: string; service: Service; steps: FileStep[] }[] };
    // SFTP recordings are packets, not steps (see sftp.ts).
    for (const s of parsed.sessions) if (Array.isArray(s.steps)) out.push({ name: s.name, service: s.service, steps: s.steps.map((step) => toWire(step, account)), mutations: [] });
  }
  return out;
}

/** A deep copy, so mutating it leaves the recording alone. */
export function cloneSession(s: WireSession): WireSession {
  return {
    ...s,
    mutations: [...s.mutations],
    steps: s.steps.map((st) => ({
      ...st,
      text: Buffer.from(st.text),
      eol: Buffer.from(st.eol),
      data: st.data && Buffer.from(st.data),
      then: st.then && Buffer.from(st.then),
      command: st.command && Buffer.from(st.command),
      delivery: st.delivery.kind === 'split' ? { kind: 'split', at: [...st.delivery.at] } : { ...st.delivery },
    })),
  };
}

/** JSON for a crash or hang report: every buffer as a string where it is text, base64 where not. */
export function describeSession(s: WireSession): unknown {
  const show = (b: Buffer | undefined) => {
    if (!b) return undefined;
    const text = b.toString('latin1');
    if (b.length > 512) return { bytes: b.length, head: JSON.stringify(text.slice(0, 200)), base64: b.toString('base64') };
    return text;
  };
  return {
    name: s.name,
    service: s.service,
    mutations: s.mutations,
    steps: s.steps.map((st) => ({ kind: st.kind, text: show(st.text), eol: show(st.eol), data: show(st.data), announced: st.announced, then: show(st.then), command: show(st.command), delivery: st.delivery })),
  };
}
