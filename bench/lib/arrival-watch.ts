/**
 * Watches a destination mailbox and notes when each benchmark message first shows up in it,
 * the same way for every server: a poll every `pollMs`, the message recognised by its
 * Message-ID (<RUNID.SEQ@host>, bench/lib/message), its arrival time the wall-clock time the
 * poll that first showed it returned. Two kinds of mailbox:
 *
 * - a Maildir (Postfix's virtual(8)): list new/, read each new file's header, move the file to
 *   cur/ as a mail client does (so the next listing stays short);
 * - an IMAP INBOX (Wharf): one logged-in session, NOOP, then FETCH the Message-ID header field
 *   of the messages the NOOP's EXISTS announced.
 *
 * Either way the figure is when the message could be read by a client, late by at most one
 * poll interval (and the poll's own round trip), equally for both.
 */
import { open, readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { epochNow, sleep } from './common.js';
import { existsCount, fetchResponses, openImapSession, type ImapConnection } from './imap-client.js';

export interface Arrival {
  /** When a poll first showed the message (epoch ms). */
  seenAt: number;
  /** The Maildir file's modification time (epoch ms): when the delivery agent wrote it. */
  fileTime?: number;
}

export interface ArrivalWatcher {
  /** Messages of this run seen so far, by message number. */
  readonly arrivals: Map<number, Arrival>;
  /** Messages seen that are not from this run (leftovers, bounces): should stay 0. */
  readonly foreign: () => number;
  /** The last polling error, if any (the watcher keeps polling). */
  readonly lastError: () => string | null;
  stop(): Promise<void>;
}

const HEADER_READ_BYTES = 16 * 1024;
const RETRY_PAUSE_MS = 500;

/** The message number from a header block holding `Message-ID: <RUNID.SEQ@...>`, or null. */
export function messageNumber(header: string, runId: string): number | null {
  const m = /^Message-ID:[ \t]*<([0-9a-f]+)\.(\d+)@/im.exec(header);
  if (!m || m[1] !== runId) return null;
  return Number(m[2]);
}

/** Runs `poll` every `pollMs` until stopped; a failing poll is recorded and retried. */
function pollLoop(pollMs: number, poll: () => Promise<void>, onError: (err: unknown) => Promise<void>): { stop: () => Promise<void> } {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const started = performance.now();
      try {
        await poll();
      } catch (err) {
        await onError(err);
        await sleep(RETRY_PAUSE_MS);
      }
      const left = pollMs - (performance.now() - started);
      if (left > 0 && !stopped) await sleep(left);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

export function watchMaildir(maildir: string, runId: string, pollMs: number): ArrivalWatcher {
  const arrivals = new Map<number, Arrival>();
  let foreign = 0;
  let lastError: string | null = null;
  const newDir = join(maildir, 'new');
  const curDir = join(maildir, 'cur');
  const loop = pollLoop(
    pollMs,
    async () => {
      let names: string[];
      try {
        names = await readdir(newDir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // no delivery yet
        throw err;
      }
      const seenAt = epochNow();
      for (const name of names) {
        const file = join(newDir, name);
        const fh = await open(file, 'r');
        let header: string;
        let mtimeMs: number;
        try {
          const buf = Buffer.alloc(HEADER_READ_BYTES);
          const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
          header = buf.subarray(0, bytesRead).toString('latin1').split(/\r?\n\r?\n/, 1)[0]!;
          mtimeMs = (await fh.stat()).mtimeMs;
        } finally {
          await fh.close();
        }
        const seq = messageNumber(header, runId);
        if (seq === null) foreign++;
        else if (!arrivals.has(seq)) arrivals.set(seq, { seenAt, fileTime: mtimeMs });
        await rename(file, join(curDir, `${name}:2,`));
      }
    },
    async (err) => {
      lastError = String(err);
    },
  );
  return { arrivals, foreign: () => foreign, lastError: () => lastError, stop: loop.stop };
}

export function watchImapInbox(opts: { host: string; port: number; user: string; password: string; runId: string; pollMs: number }): ArrivalWatcher {
  const arrivals = new Map<number, Arrival>();
  let foreign = 0;
  let lastError: string | null = null;
  let conn: ImapConnection | null = null;
  /** Messages in the INBOX already looked at (sequence numbers 1..known; nobody expunges). */
  let known = 0;
  /** FETCH answers that lacked messages the EXISTS before had announced. */
  let shortFetches = 0;
  const loop = pollLoop(
    opts.pollMs,
    async () => {
      let exists: number | undefined;
      if (!conn) {
        conn = await openImapSession(opts.host, opts.port, opts.user, opts.password, 30_000);
        exists = existsCount(await conn.ok('SELECT INBOX'));
      } else {
        exists = existsCount(await conn.ok('NOOP'));
      }
      // Seen when the server said they exist (the FETCH that names them is one more round trip).
      const seenAt = epochNow();
      if (exists === undefined || exists <= known) return;
      const reply = await conn.ok(`FETCH ${known + 1}:${exists} (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])`);
      const fetched = new Set<number>();
      for (const r of fetchResponses(reply)) {
        fetched.add(Number(/^\* (\d+) FETCH/i.exec(r.line)![1]));
        const seq = messageNumber(r.literals.map((l) => l.toString('latin1')).join(''), opts.runId);
        if (seq === null) foreign++;
        else if (!arrivals.has(seq)) arrivals.set(seq, { seenAt });
      }
      // Only what was fetched counts as looked at: a message announced but not (yet) in the
      // FETCH answer is asked for again at the next poll rather than skipped for good.
      let next = known;
      while (fetched.has(next + 1)) next++;
      if (next < exists) shortFetches++;
      known = next;
    },
    async (err) => {
      lastError = String(err);
      conn?.destroy();
      conn = null; // reconnect; `known` stays, the INBOX only grows
    },
  );
  return {
    arrivals,
    foreign: () => foreign,
    lastError: () => (shortFetches > 0 ? `${shortFetches} FETCH answer(s) lacked announced messages; ${lastError ?? ''}` : lastError),
    async stop() {
      await loop.stop();
      await (conn as ImapConnection | null)?.logout().catch(() => undefined);
    },
  };
}
