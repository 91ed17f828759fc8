/**
 * APPEND (RFC 9051 6.3.12) with MULTIAPPEND (RFC 3502), UIDPLUS APPENDUID and APPENDLIMIT.
 * Message literals stream from the socket into the store; nothing is answered OK before the
 * store says the message is durable. Refusals (no such mailbox, too big, over quota) come
 * before the client sends a synchronising literal's bytes.
 */
import { StoreError, type BodyWriter, type Mailbox, type MailboxEntry } from '../../store/types.js';
import { otherUsageOf } from '../../net/other-usage.js';
import { ImapBad, ImapNo } from '../errors.js';
import { checkClientFlags } from '../flags.js';
import { formatNumberSet } from '../protocol/sequence-set.js';
import { parseAppendArgs } from '../protocol/append-args.js';
import type { AppendMessage } from '../protocol/types.js';
import type { ImapSession } from '../session.js';
import { mailboxFromWire } from './mailbox-name.js';
import { AUTHENTICATED, type CommandSpec } from './types.js';

interface Received {
  body: BodyWriter;
  flags: string[];
  date: Date;
}

/** Reads one message literal into a new body; aborts the body if the client goes away. */
async function receive(s: ImapSession, message: AppendMessage, flags: string[], date: Date): Promise<Received> {
  const body = s.store.createBody();
  try {
    for await (const chunk of message.accept()) await body.write(chunk);
  } catch (err) {
    await body.abort();
    throw err;
  }
  if (body.size !== message.size) {
    await body.abort();
    throw new ImapBad('Message literal cut short');
  }
  return { body, flags, date };
}

async function refuse(m: AppendMessage, error: ImapNo): Promise<never> {
  await m.reject();
  throw error;
}

export const append: CommandSpec = {
  states: AUTHENTICATED,
  async run(s, c) {
    if (c.kind !== 'append') throw new ImapBad('APPEND needs a message literal');
    const received: Received[] = [];
    let mailbox: Mailbox | null = null;
    try {
      for (let m = await c.stream.nextMessage(); m; m = await c.stream.nextMessage()) {
        const options = parseAppendArgs(m.args, !mailbox, true);
        if (!mailbox) {
          const name = mailboxFromWire(s, options.mailbox ?? '');
          mailbox = await s.store.getMailbox(s.user!.id, name);
          if (!mailbox) await refuse(m, new ImapNo('Mailbox does not exist', 'TRYCREATE'));
        }
        const checked = checkClientFlags(options.flags);
        if ('error' in checked) await refuse(m, new ImapNo(checked.error, 'CANNOT'));
        const flags = 'flags' in checked ? checked.flags : [];
        const date = options.date?.date ?? new Date();
        if (m.size > s.config.maxAppendBytes) await refuse(m, new ImapNo('Message too large', 'TOOBIG'));
        const user = await s.store.getUserById(s.user!.id);
        const pending = received.reduce((n, r) => n + r.body.size, 0);
        // The quota also holds the user's files when files share it (files.quota "shared").
        const other = user ? await otherUsageOf(s.ctx, s.log, user) : 0;
        if (user?.quotaBytes != null && user.usedBytes + other + pending + m.size > user.quotaBytes) {
          await refuse(m, new ImapNo('Quota exceeded', 'OVERQUOTA'));
        }
        received.push(await receive(s, m, flags, date));
      }
      if (!mailbox || received.length === 0) throw new ImapBad('APPEND needs a message');
      return await commit(s, mailbox, received);
    } catch (err) {
      await Promise.allSettled(received.map((r) => r.body.abort()));
      throw err;
    }
  },
};

/** Stores every message; MULTIAPPEND is all or nothing (RFC 3502 6.3.11). */
async function commit(s: ImapSession, mailbox: Mailbox, received: Received[]) {
  const done: MailboxEntry[] = [];
  try {
    for (const r of received) {
      done.push(await s.store.append(mailbox.id, { body: r.body, internalDate: r.date, flags: r.flags }));
    }
  } catch (err) {
    if (done.length > 0) await s.store.expunge(mailbox.id, done.map((e) => e.uid)).catch(() => undefined);
    if (err instanceof StoreError && err.code === 'quota') throw new ImapNo('Quota exceeded', 'OVERQUOTA');
    // Deleted by another session while the literal was on its way: as if it had never been there.
    if (err instanceof StoreError && err.code === 'not-found') throw new ImapNo('Mailbox does not exist', 'TRYCREATE');
    throw err;
  }
  const uids = formatNumberSet(done.map((e) => e.uid));
  return { code: `APPENDUID ${mailbox.uidValidity} ${uids}`, text: 'APPEND completed' };
}
