/**
 * Commands of the TRANSACTION state (RFC 1939 sections 5 and 7): STAT, LIST, RETR, DELE,
 * NOOP, RSET, TOP, UIDL, CAPA, and QUIT, which runs the UPDATE state.
 */
import { ConnectionClosedError } from '../net/transport.js';
import type { MailboxEntry } from '../store/types.js';
import { DotStuffer, TopLimiter } from './byte-stuffing.js';
import { capa } from './capabilities.js';
import { parseNumberArg } from './command-line.js';
import type { Maildrop } from './maildrop.js';
import type { CommandHandler, Pop3Session } from './session.js';

/** Listing lines written per batch: big maildrops are listed without one giant string. */
const LISTING_BATCH = 512;

function maildropOf(session: Pop3Session): Maildrop {
  if (!session.maildrop) throw new Error('TRANSACTION state without a maildrop');
  return session.maildrop;
}

/**
 * Resolves a message-number argument to its entry, replying -ERR (and returning null) when
 * it is malformed, out of range or marked deleted.
 */
async function messageArg(
  session: Pop3Session,
  arg: string | undefined,
): Promise<{ number: number; entry: MailboxEntry } | null> {
  const number = parseNumberArg(arg);
  if (number === null) {
    await session.rejectCommand('-ERR Invalid message number');
    return null;
  }
  const found = maildropOf(session).lookup(number);
  if (found.kind === 'found') return { number, entry: found.entry };
  await session.reply(found.kind === 'deleted' ? `-ERR Message ${number} already deleted.` : `-ERR There's no message ${number}.`);
  return null;
}

/**
 * Sends "+OK" and then a stored body, byte-stuffed, as a multi-line response. The first
 * chunk is read before "+OK" goes out, so a message expunged meanwhile (by IMAP) still gets a
 * clean -ERR. Once "+OK" is sent, a failure cannot be reported in-band: the connection is
 * dropped, which the client sees as an error instead of a truncated message.
 */
async function sendMessage(session: Pop3Session, entry: MailboxEntry, statusLine: string, limiter?: TopLimiter): Promise<boolean> {
  const body = session.ctx.store.readBody(entry.messageId)[Symbol.asyncIterator]();
  let next: IteratorResult<Buffer>;
  try {
    next = await body.next();
  } catch (err) {
    session.log.warn('message body unavailable', { uid: entry.uid, error: err as Error });
    await session.reply('-ERR [SYS/TEMP] Message is no longer available');
    return false;
  }
  const { transport } = session;
  const stuffer = new DotStuffer();
  const pieces: Buffer[] = [];
  try {
    const started = transport.write(statusLine + '\r\n');
    if (started) await started;
    while (!next.done) {
      const chunk = limiter ? limiter.take(next.value) : next.value;
      stuffer.stuff(chunk, pieces);
      for (const piece of pieces) {
        const full = transport.write(piece);
        if (full) await full;
      }
      pieces.length = 0;
      if (limiter?.done) {
        await body.return?.();
        break;
      }
      next = await body.next();
    }
    const ended = transport.write(stuffer.terminator());
    if (ended) await ended;
  } catch (err) {
    if (!(err instanceof ConnectionClosedError)) {
      session.log.error('message transfer failed', { uid: entry.uid, error: err as Error });
    }
    await body.return?.().catch(() => {});
    session.transport.destroy();
    throw new ConnectionClosedError();
  }
  return true;
}

/** Writes a multi-line listing ("+OK" line, one line per message, "."), in batches. */
async function sendListing(session: Pop3Session, statusLine: string, lineFor: (n: number, entry: MailboxEntry) => string): Promise<void> {
  const maildrop = maildropOf(session);
  let batch = statusLine + '\r\n';
  let lines = 0;
  for (let n = 1; n <= maildrop.size; n++) {
    if (maildrop.isDeleted(n)) continue;
    batch += lineFor(n, maildrop.entryAt(n)) + '\r\n';
    if (++lines === LISTING_BATCH) {
      await session.transport.write(batch);
      batch = '';
      lines = 0;
    }
  }
  await session.transport.write(batch + '.\r\n');
}

const stat: CommandHandler = async (session, args) => {
  if (args.length > 0) return session.rejectCommand('-ERR STAT takes no arguments');
  const maildrop = maildropOf(session);
  await session.reply(`+OK ${maildrop.visibleCount} ${maildrop.visibleBytes}`);
};

const list: CommandHandler = async (session, args) => {
  if (args.length > 1) return session.rejectCommand('-ERR Syntax: LIST [message]');
  if (args.length === 1) {
    const message = await messageArg(session, args[0]);
    if (message) await session.reply(`+OK ${message.number} ${message.entry.size}`);
    return;
  }
  const maildrop = maildropOf(session);
  await sendListing(
    session,
    `+OK ${maildrop.visibleCount} messages (${maildrop.visibleBytes} octets)`,
    (n, entry) => `${n} ${entry.size}`,
  );
};

const uidl: CommandHandler = async (session, args) => {
  if (args.length > 1) return session.rejectCommand('-ERR Syntax: UIDL [message]');
  const maildrop = maildropOf(session);
  if (args.length === 1) {
    const message = await messageArg(session, args[0]);
    if (message) await session.reply(`+OK ${message.number} ${maildrop.uniqueId(message.entry)}`);
    return;
  }
  await sendListing(session, '+OK Unique-ID listing follows', (n, entry) => `${n} ${maildrop.uniqueId(entry)}`);
};

const retr: CommandHandler = async (session, args) => {
  if (args.length !== 1) return session.rejectCommand('-ERR Syntax: RETR message');
  const message = await messageArg(session, args[0]);
  if (!message) return;
  const { entry } = message;
  // The size is the entry's octet count as stored (CRLF line endings), before stuffing.
  if (!(await sendMessage(session, entry, `+OK ${entry.size} octets`))) return;
  session.retrievedCount++;
  maildropOf(session).markSeen(entry);
};

const top: CommandHandler = async (session, args) => {
  if (args.length !== 2) return session.rejectCommand('-ERR Syntax: TOP message lines');
  const lines = parseNumberArg(args[1]);
  if (lines === null) return session.rejectCommand('-ERR Invalid number of lines');
  const message = await messageArg(session, args[0]);
  if (!message) return;
  await sendMessage(session, message.entry, '+OK Top of message follows', new TopLimiter(lines));
};

const dele: CommandHandler = async (session, args) => {
  if (args.length !== 1) return session.rejectCommand('-ERR Syntax: DELE message');
  const message = await messageArg(session, args[0]);
  if (!message) return;
  maildropOf(session).markDeleted(message.number);
  await session.reply('+OK Marked to be deleted.');
};

const noop: CommandHandler = async (session, args) => {
  if (args.length > 0) return session.rejectCommand('-ERR NOOP takes no arguments');
  await session.reply('+OK');
};

const rset: CommandHandler = async (session, args) => {
  if (args.length > 0) return session.rejectCommand('-ERR RSET takes no arguments');
  const maildrop = maildropOf(session);
  maildrop.unmarkAll();
  await session.reply(`+OK Maildrop has ${maildrop.visibleCount} messages (${maildrop.visibleBytes} octets)`);
};

/**
 * QUIT in TRANSACTION enters the UPDATE state (RFC 1939 section 6): the marked messages are
 * removed, the lease released, and only then the reply sent, so a client that reconnects
 * right away finds the maildrop free and the deletions done.
 */
const quit: CommandHandler = async (session) => {
  const maildrop = maildropOf(session);
  session.state = 'update';
  session.loggedOut = true;
  let deleted: number;
  try {
    deleted = await maildrop.expungeMarked();
  } catch (err) {
    session.log.error('could not delete messages at QUIT', { user: session.userAddress, error: err as Error });
    await maildrop.close();
    session.close('-ERR [SYS/TEMP] Could not delete the marked messages; none were deleted');
    return;
  }
  await maildrop.close();
  session.log.info('logout', { user: session.userAddress, retrieved: session.retrievedCount, deleted });
  session.close(deleted > 0 ? '+OK Logging out, messages deleted.' : '+OK Logging out.');
};

export const transactionCommands: ReadonlyMap<string, CommandHandler> = new Map<string, CommandHandler>([
  ['STAT', stat],
  ['LIST', list],
  ['RETR', retr],
  ['DELE', dele],
  ['NOOP', noop],
  ['RSET', rset],
  ['TOP', top],
  ['UIDL', uidl],
  ['CAPA', capa],
  ['QUIT', quit],
]);
