/**
 * SMTP sessions as the server reads them: command lines through the shared line reader, the
 * session's own line handling (SmtpSession.handleLine: NUL, UTF-8, verb and argument) and the
 * real command handlers (EHLO, MAIL, RCPT, DATA with its decoder, BDAT chunking, RSET, AUTH,
 * ...). Only the edges are stand-ins: the socket, the store's recipient lookup and the message
 * sink, which records what a delivery would store. Invariants: every reply is a well-formed SMTP
 * reply; a generated session delivers exactly the messages it sent (DATA unstuffed, BDAT
 * chunks joined), nothing else; a sink gets no bytes once aborted or finished; no transaction
 * outlives its delivery; the session ends when the client does.
 */
import fc from 'fast-check';
import { defaultConfig } from '../../src/config/index.js';
import { LineReader, type Line } from '../../src/net/line-reader.js';
import { StageDeadlines } from '../../src/net/deadlines.js';
import type { Logger } from '../../src/net/types.js';
import { SmtpSession } from '../../src/smtp/session.js';
import type { Transaction } from '../../src/smtp/transaction.js';
import { check, InvariantError, type FuzzTarget } from '../engine/types.js';
import { seedOf } from '../engine/rng.js';
import { FakeSocket } from './fake-socket.js';
import { stuff } from './smtp-data.js';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
const config = defaultConfig();
config.hostname = 'mx.example.com';

const store = {
  async resolveRecipient(address: string) {
    const domain = address.slice(address.lastIndexOf('@') + 1).toLowerCase();
    if (domain === 'example.com') return { kind: 'local', users: [{ id: 1, quotaBytes: null, usedBytes: 0 }] };
    if (domain === 'remote.test') return { kind: 'remote' };
    return { kind: 'unknown' };
  },
  async listDomains() {
    return [{ name: 'example.com' }];
  },
};

interface RecordingSink {
  size: number;
  tooBig: boolean;
  failure: null;
  refusal: null;
  chunks: Buffer[];
  state: 'open' | 'aborted' | 'finished';
  write(segments: Buffer[]): Promise<void>;
  abort(): Promise<void>;
}

function recordingSink(): RecordingSink {
  const sink: RecordingSink = {
    size: 0,
    tooBig: false,
    failure: null,
    refusal: null,
    chunks: [],
    state: 'open',
    async write(segments) {
      if (sink.state !== 'open') throw new InvariantError(`message bytes written to a sink already ${sink.state}`);
      for (const s of segments) {
        sink.chunks.push(Buffer.from(s));
        sink.size += s.length;
      }
    },
    async abort() {
      sink.state = 'aborted';
    },
  };
  return sink;
}

/** The session with a stand-in transport over a real line reader; returns replies and deliveries. */
async function runSession(bytes: Buffer, mode: 'mx' | 'submission'): Promise<{ replies: string[]; delivered: Buffer[] }> {
  const socket = new FakeSocket();
  const lines = new LineReader(socket.asDuplex(), config.smtp.maxLineBytes);
  const replies: string[] = [];
  const delivered: Buffer[] = [];
  const transport = {
    secure: false,
    isClosing: false,
    waitingForClient: false,
    // Deadlines are set and cleared as by the real transport; nothing here waits on them.
    deadlines: new StageDeadlines(),
    readLine: (_timeout?: number) => lines.nextLine(),
    readBytes: (max: number, _timeout?: number) => lines.nextBytes(max),
    unshift: (b: Buffer) => lines.unshift(b),
    send: (text: string) => void replies.push(text),
    close(last?: string) {
      if (last) replies.push(last);
      transport.isClosing = true;
    },
    destroy() {
      transport.isClosing = true;
    },
    async upgradeToTls() {
      // The handshake "fails": a real transport then closes the connection.
      transport.isClosing = true;
      return null;
    },
  };
  const s = Object.create(SmtpSession.prototype) as SmtpSession & Record<string, unknown>;
  Object.assign(s, {
    ctx: { config, store, log: quiet, tls: { secureContext: null }, auth: { verify: async () => null } },
    mode,
    conn: { remoteAddress: '127.0.0.1', secure: false, log: quiet },
    host: config.hostname,
    helo: null,
    esmtp: false,
    auth: null,
    txn: null,
    unknownRecipients: 0,
    verb: '',
    errors: 0,
    shuttingDown: false,
    graceTimer: null,
    transport,
  });
  s.createSink = (() => recordingSink()) as unknown as SmtpSession['createSink'];
  s.deliverMessage = (async (txn: Transaction, sink: RecordingSink) => {
    check(sink.state === 'open', `delivering a message whose sink is ${sink.state}`);
    check(txn.recipients.length > 0 && txn.recipients.length <= config.smtp.maxRecipients, `delivery to ${txn.recipients.length} recipients`);
    sink.state = 'finished';
    delivered.push(Buffer.concat(sink.chunks));
    s.reply(`250 2.0.0 Ok: queued as ${txn.queueId}\r\n`);
    if (s.txn === txn) s.txn = null;
  }) as unknown as SmtpSession['deliverMessage'];
  const handleLine = (SmtpSession.prototype as unknown as { handleLine(line: Line): Promise<void> }).handleLine;

  const delivering = socket.deliver(bytes);
  while (!transport.isClosing) {
    const line = await s.readLine();
    if (!line) break;
    await handleLine.call(s, line);
  }
  if (s.txn) await s.endTransaction();
  if (!transport.isClosing) transport.close();
  // The client may still be sending when the server hangs up; let it finish.
  lines.detach();
  socket.resume();
  await delivering;
  return { replies, delivered };
}

const REPLY = /^(?:(\d{3})-[^\r\n]*\r\n)*(\d{3})(?: [^\r\n]*)?\r\n$/;

function checkReply(text: string): void {
  check(REPLY.test(text), () => `malformed reply ${JSON.stringify(text.slice(0, 200))}`);
  const codes = [...text.matchAll(/^(\d{3})/gm)].map((m) => m[1]);
  check(codes.every((c) => c === codes[0]), 'multi-line reply with different codes');
  check(Number(codes[0]) >= 200 && Number(codes[0]) < 600, `reply code ${codes[0]}`);
}

const content = fc.array(fc.oneof(fc.constantFrom('.', '..', 'Subject: x', '', '.\r', '\n.\n', 'From: a@b'), fc.string({ maxLength: 20 })), { maxLength: 8 }).map((l) => Buffer.from(l.join('\r\n'), 'utf8'));
const transaction = fc.tuple(
  fc.constantFrom('MAIL FROM:<s@remote.test>', 'MAIL FROM:<>', 'MAIL FROM: <s@remote.test> SIZE=100', 'mail from:<s@remote.test> BODY=8BITMIME', 'MAIL FROM:<s@remote.test> BODY=BINARYMIME'),
  fc.array(fc.constantFrom('RCPT TO:<u@example.com>', 'RCPT TO:<U@EXAMPLE.COM>', 'RCPT TO:<nobody@elsewhere.test>', 'RCPT TO:<postmaster>', 'NOOP', 'VRFY u'), { minLength: 1, maxLength: 3 }),
  content,
  fc.boolean(),
  fc.array(fc.nat({ max: 4 }), { minLength: 1, maxLength: 3 }),
);
const session = fc.tuple(fc.constantFrom('EHLO client.test', 'HELO client.test', 'ehlo x'), fc.array(transaction, { maxLength: 3 }), fc.constantFrom('QUIT', 'NOOP', 'RSET'));

interface Expect {
  messages: string[];
}

/** Builds a session's bytes and the messages it must deliver. */
function build([hello, txns, last]: [string, Array<[string, string[], Buffer, boolean, number[]]>, string]): { bytes: Buffer; expect: Expect } {
  const parts: Buffer[] = [Buffer.from(hello + '\r\n')];
  const messages: string[] = [];
  for (const [mail, rcpts, body, useBdat, cuts] of txns) {
    const binary = mail.includes('BINARYMIME');
    const accepted = rcpts.some((r) => /example\.com|postmaster/i.test(r));
    parts.push(Buffer.from(`${mail}\r\n${rcpts.join('\r\n')}\r\n`));
    // DATA without a recipient is refused and its lines would be read as commands; BDAT's
    // bytes are read either way, so a transaction with no accepted recipient uses BDAT.
    if (useBdat || binary || !accepted) {
      // The body in up to four chunks, the last one marked LAST.
      const points = [...new Set(cuts.map((c) => Math.floor((c / 4) * body.length)))].sort((a, b) => a - b).filter((p) => p > 0);
      let from = 0;
      for (const p of [...points, body.length]) {
        const chunk = body.subarray(from, p);
        parts.push(Buffer.from(`BDAT ${chunk.length}${p === body.length ? ' LAST' : ''}\r\n`), chunk);
        from = p;
      }
      if (accepted) messages.push(body.toString('latin1'));
    } else {
      parts.push(Buffer.from('DATA\r\n'), stuff(body));
      const text = body.toString('latin1');
      if (accepted) messages.push(text === '' || text.endsWith('\r\n') ? text : text + '\r\n');
    }
    parts.push(Buffer.from('RSET\r\n'));
  }
  parts.push(Buffer.from(last + '\r\n'));
  return { bytes: Buffer.concat(parts), expect: { messages } };
}

const target: FuzzTarget<Expect> = {
  name: 'smtp-command',
  description: 'SMTP sessions: command lines, real command handlers, DATA and BDAT (smtp/session.ts, smtp/commands/)',
  generator: session.map(build),
  dictionary: ['EHLO x\r\n', 'MAIL FROM:<a@remote.test>\r\n', 'RCPT TO:<u@example.com>\r\n', 'DATA\r\n', '\r\n.\r\n', 'BDAT 5\r\n', 'BDAT 0 LAST\r\n', 'RSET\r\n', 'AUTH PLAIN\r\n', 'STARTTLS\r\n', ' SIZE=', ' BODY=BINARYMIME', 'SMTPUTF8', '<>', '\u0000', '\xff'],
  maxInputBytes: 16 * 1024,
  async run(bytes, expect) {
    const mode = expect || seedOf(bytes) % 4 !== 0 ? 'mx' : 'submission';
    const { replies, delivered } = await runSession(bytes, mode);
    replies.forEach(checkReply);
    if (expect) {
      const got = delivered.map((d) => d.toString('latin1'));
      check(JSON.stringify(got) === JSON.stringify(expect.messages), () => `delivered ${JSON.stringify(got).slice(0, 300)}, sent ${JSON.stringify(expect.messages).slice(0, 300)}`);
    }
  },
};
export default target;
