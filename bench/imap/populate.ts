/**
 * Filling both servers with the same INBOX, and the untimed first touch that lets each server
 * build whatever index it builds lazily (Dovecot indexes a Maildir on its first SELECT).
 */
import { log, sleep } from '../lib/common.js';
import type { DovecotInstance } from '../lib/dovecot.js';
import { existsCount, fetchResponses, openImapSession } from '../lib/imap-client.js';
import { mailboxMessage } from '../lib/mailbox-corpus.js';
import { deliverMessages } from '../lib/smtp-client.js';
import type { WharfInstance } from '../lib/wharf.js';
import { IDLE_MAILBOX } from './mixed-load.js';

export const SENDER = 'mx-relay@sender.example';

function* mailbox(count: number, to: string): Generator<string> {
  for (let i = 1; i <= count; i++) yield mailboxMessage(i, to);
}

/** Dovecot: the messages as files in the user's Maildir, as a local delivery agent leaves them. */
export async function populateDovecot(dovecot: DovecotInstance, user: string, address: string, count: number): Promise<void> {
  const t0 = performance.now();
  const n = await dovecot.addMessages(user, mailbox(count, address));
  log(`dovecot: wrote ${n} messages into the Maildir in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/**
 * Wharf: the messages through Wharf's own inbound SMTP service, which stores them in the
 * mailbox that IMAP serves.
 *
 * TODO(imap merge): this is the documented way mail enters a Wharf mailbox today. If Wharf's
 * IMAP service reads a store that SMTP delivery does not feed, or gains a faster bulk import
 * (an admin CLI `import`, say), change this function only: the rest of the benchmark just needs
 * the INBOX of `address` to hold messages 1..count of bench/lib/mailbox-corpus, in order.
 */
export async function populateWharf(wharf: WharfInstance, address: string, count: number): Promise<void> {
  const t0 = performance.now();
  const sessions = 4;
  let last = t0;
  let sent = 0;
  const progress = function* () {
    for (const m of mailbox(count, address)) {
      yield m;
      if (++sent % 10_000 === 0 && performance.now() - last > 5000) {
        last = performance.now();
        log(`wharf: ${sent} of ${count} messages delivered over SMTP`);
      }
    }
  };
  await deliverMessages(wharf.smtpPort, SENDER, address, progress(), sessions);
  log(`wharf: delivered ${count} messages over SMTP in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/**
 * The untimed first touch: waits until SELECT INBOX shows every message (bounded), fetches
 * every message's flags and list headers once, and creates the mailbox the IDLE measurement
 * uses. Returns how long the first SELECT took (Dovecot's index build).
 */
export async function prepareMailbox(label: string, port: number, user: string, pass: string, count: number): Promise<number> {
  const conn = await openImapSession('127.0.0.1', port, user, pass, 600_000);
  try {
    const t0 = performance.now();
    let exists = existsCount(await conn.ok('SELECT INBOX')) ?? 0;
    const firstSelectMs = performance.now() - t0;
    const deadline = Date.now() + 120_000;
    while (exists < count && Date.now() < deadline) {
      await sleep(1000);
      exists = existsCount(await conn.ok('SELECT INBOX')) ?? 0;
    }
    if (exists !== count) throw new Error(`${label}: INBOX holds ${exists} messages, expected ${count}`);
    const flags = fetchResponses(await conn.ok('UID FETCH 1:* (FLAGS)')).length;
    if (flags !== count) throw new Error(`${label}: UID FETCH 1:* returned ${flags} of ${count} messages`);
    await conn.ok('FETCH 1:* (BODY.PEEK[HEADER.FIELDS (From Subject Date)])');
    const created = await conn.send(`CREATE ${IDLE_MAILBOX}`);
    if (created.status !== 'OK' && !/exist/i.test(created.text)) throw new Error(`${label}: CREATE ${IDLE_MAILBOX} -> ${created.status} ${created.text}`);
    log(`${label}: INBOX holds ${exists} messages; first SELECT took ${firstSelectMs.toFixed(0)} ms (untimed)`);
    return firstSelectMs;
  } finally {
    await conn.logout();
  }
}
