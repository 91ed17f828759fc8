/**
 * Group commit for deliveries: the deliveries that arrive while one batch is being written go
 * together into the next, one transaction and one statement for all of them.
 *
 * Measured on the multinode bench, a delivery was about a dozen statements, each a round trip
 * and a wake-up of the database backend, and every delivery to a user waited for the row lock
 * on its mailbox (UID allocation) held up to and through its COMMIT, WAL flush included. A
 * batch takes those locks once, writes every body, message, search text, entry and quota
 * change of its deliveries in one data-modifying WITH statement, and shares the COMMIT.
 *
 * What each delivery gets is exactly what it would have got alone, in batch order: its
 * entries take the next UIDs of their mailboxes, and each delivery that touches a mailbox
 * gets its own modseq there (a mailbox named twice in one delivery still gets one modseq);
 * message_count, total_bytes and used_bytes move by the same amounts; the NOTIFY that tells
 * the other nodes, and the local watchers, follow the COMMIT. A delivery resolves only once
 * the COMMIT holding it has returned (synchronous_commit as the server has it).
 *
 * A batch whose statement fails (a user without an INBOX, a mailbox deleted meanwhile, a
 * pending body swept away, ...) has changed nothing: each of its deliveries is then run
 * again alone (the caller's `alone`), which gives it its own result or its own error, as
 * before. A batch that failed at its COMMIT fails all its deliveries: its outcome is unknown,
 * and running them again could store a message twice.
 */
import { CHUNK_SIZE, type ChunkedBodyWriter } from '../chunked-body-writer.js';
import type { TextColumn } from '../text-columns.js';
import type { DeliveryRequest, DeliveryResult } from '../types.js';
import type { Database, Tx } from './db.js';
import type { SearchText } from './search.js';

/** Deliveries per batch: enough to share the locks and the commit, few enough to keep it short. */
const MAX_BATCH = 64;

const TEXT_COLUMNS: readonly TextColumn[] = ['subject', 'from_addr', 'to_addr', 'cc_addr', 'bcc_addr', 'headers', 'body'];

/** One delivery, checked and analysed, waiting for its batch. */
export interface QueuedDelivery {
  writer: ChunkedBodyWriter;
  size: number;
  internalDate: Date;
  /** messages.headers, envelope, structure as stored (JSON text). */
  headers: string;
  envelope: string | null;
  structure: string | null;
  /** messages.text_state, and the text for message_text_pending (none: null). */
  textState: string;
  pendingText: { state: 'complete' | 'truncated'; text: SearchText } | null;
  userIds: readonly number[];
  folder: 'inbox' | 'junk';
  copies: ReadonlyArray<{ mailboxId: number; flags: string[] }>;
  /** The request as given (for running it alone). */
  request: DeliveryRequest;
}

interface Waiting {
  delivery: QueuedDelivery;
  resolve: (result: DeliveryResult) => void;
  reject: (err: unknown) => void;
}

/**
 * The whole batch. Small values (ids, sizes, dates) travel as arrays; the large ones (the body's
 * last chunk and head, the structure, the header and body text) each as a parameter of its
 * own (LARGE_ROWS), a bytea sent in binary: parsed out of one array literal, they cost the
 * server more than all the rest of the statement. Per message (msg, in batch order): its body id (the pending body of a large
 * message, else a new one from the sequence), body, message row and search text. Per target
 * (tgt, deliveries in batch order, each delivery's users then copies): the mailbox (a user's
 * folder as foldersInTx chooses it: the folder's role, else INBOX). The mailboxes are locked
 * in id order, then each gets its UIDs and modseqs in one update; the users' used_bytes move
 * once per user, after every mailbox lock was taken (the lock order of messages.ts).
 */
const DELIVER_BATCH = `
  WITH large (ord, head, tail, structure, text_headers, text_body, body_words) AS MATERIALIZED (
    VALUES LARGE_ROWS
  ), msg AS MATERIALIZED (
    SELECT m.ord, COALESCE(m.body_id, nextval('bodies_id_seq'::regclass)) AS id, m.body_id IS NULL AS fresh,
      m.size, l.head, l.tail, m.tail_seq, m.internal_date, m.headers, m.envelope, l.structure, m.text_state
    FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::timestamptz[], $5::text[], $6::text[], $7::text[])
      WITH ORDINALITY AS m(body_id, size, tail_seq, internal_date, headers, envelope, text_state, ord)
    JOIN large l ON l.ord = m.ord
  ), new_bodies AS (
    INSERT INTO bodies (id, state, size, chunk_size, head)
    SELECT id, 'committed', size, ${CHUNK_SIZE}, head FROM msg WHERE fresh
  ), old_bodies AS (
    UPDATE bodies b SET state = 'committed', size = msg.size, head = msg.head, owner_token = NULL
    FROM msg WHERE NOT msg.fresh AND b.id = msg.id AND b.state = 'pending'
    RETURNING b.id
  ), tails AS (
    INSERT INTO body_chunks (body_id, seq, data)
    SELECT id, CASE WHEN fresh THEN 0 ELSE tail_seq END, tail FROM msg WHERE tail IS NOT NULL
  ), stored AS (
    INSERT INTO messages (id, size, internal_date, headers, envelope, structure, text_state)
    SELECT id, size, internal_date, headers, envelope, structure, text_state FROM msg
  ), texts AS (
    INSERT INTO message_text_pending (message_id, state, ${TEXT_COLUMNS.join(', ')}, body_words)
    SELECT msg.id, t.state, t.subject, t.from_addr, t.to_addr, t.cc_addr, t.bcc_addr, l.text_headers, l.text_body, l.body_words
    FROM unnest($8::int[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[])
      AS t(msg, state, subject, from_addr, to_addr, cc_addr, bcc_addr)
    JOIN msg ON msg.ord = t.msg
    JOIN large l ON l.ord = t.msg
  ), tgt AS MATERIALIZED (
    SELECT t.ord, t.msg, t.flags,
      COALESCE(t.mailbox_id, (
        SELECT f.id FROM mailboxes f WHERE f.user_id = t.user_id AND f.role IN ('inbox', t.folder)
        ORDER BY f.role = 'inbox', f.id LIMIT 1
      )) AS mailbox_id
    FROM unnest($15::int[], $16::bigint[], $17::text[], $18::bigint[], $19::text[])
      WITH ORDINALITY AS t(msg, user_id, folder, mailbox_id, flags, ord)
  ), wanted AS MATERIALIZED (
    SELECT t.mailbox_id AS id, count(*) AS n, count(DISTINCT t.msg) AS d, sum(msg.size) AS bytes
    FROM tgt t JOIN msg ON msg.ord = t.msg GROUP BY t.mailbox_id
  ), locked AS MATERIALIZED (
    SELECT m.id FROM mailboxes m WHERE m.id IN (SELECT id FROM wanted) ORDER BY m.id FOR UPDATE
  ), slots AS MATERIALIZED (
    UPDATE mailboxes m SET uid_next = m.uid_next + w.n, highest_modseq = m.highest_modseq + w.d,
      message_count = m.message_count + w.n, total_bytes = m.total_bytes + w.bytes
    FROM wanted w JOIN locked l ON l.id = w.id
    WHERE m.id = w.id
    RETURNING m.id, m.user_id, m.uid_next - w.n AS first_uid, m.highest_modseq - w.d AS base_modseq, w.bytes
  ), charged AS (
    UPDATE users u SET used_bytes = u.used_bytes + c.bytes
    FROM (SELECT user_id, sum(bytes) AS bytes FROM slots GROUP BY user_id ORDER BY user_id) c
    WHERE u.id = c.user_id AND c.bytes <> 0
  ), numbered AS MATERIALIZED (
    SELECT t.ord, t.msg, t.mailbox_id, t.flags, s.user_id,
      s.first_uid + row_number() OVER (PARTITION BY t.mailbox_id ORDER BY t.ord) - 1 AS uid,
      s.base_modseq + dense_rank() OVER (PARTITION BY t.mailbox_id ORDER BY t.msg) AS modseq
    FROM tgt t JOIN slots s ON s.id = t.mailbox_id
  ), entries AS (
    INSERT INTO mailbox_entries (mailbox_id, uid, message_id, flags, modseq, size, internal_date)
    SELECT n.mailbox_id, n.uid, msg.id, string_to_array(n.flags, ' '), n.modseq, msg.size, msg.internal_date
    FROM numbered n JOIN msg ON msg.ord = n.msg
    RETURNING 1
  )
  SELECT
    (SELECT array_agg(id ORDER BY ord) FROM msg) AS message_ids,
    (SELECT count(*) FROM msg WHERE NOT fresh)::int AS reused,
    (SELECT count(*) FROM old_bodies)::int AS committed,
    (SELECT count(*) FROM entries)::int AS inserted,
    (SELECT array_agg(ord ORDER BY ord) FROM numbered) AS entry_ords,
    (SELECT array_agg(mailbox_id ORDER BY ord) FROM numbered) AS entry_mailboxes,
    (SELECT array_agg(uid ORDER BY ord) FROM numbered) AS entry_uids,
    (SELECT array_agg(user_id ORDER BY ord) FROM numbered) AS entry_users`;

/** Array parameters of DELIVER_BATCH ($1..$19), before the per-message ones. */
const ARRAY_PARAMS = 19;
/** Per message, parameters of their own: head, tail, structure, header text, body text, body words. */
const LARGE_PARAMS = 6;
const statements = new Map<number, string>();

/** DELIVER_BATCH for a batch of `messages`. */
function deliverBatch(messages: number): string {
  let text = statements.get(messages);
  if (text === undefined) {
    const rows: string[] = [];
    for (let i = 0; i < messages; i++) {
      const p = ARRAY_PARAMS + i * LARGE_PARAMS;
      rows.push(`(${i + 1}, $${p + 1}::bytea, $${p + 2}::bytea, $${p + 3}::text, $${p + 4}::text, $${p + 5}::text, $${p + 6}::text)`);
    }
    text = DELIVER_BATCH.replace('LARGE_ROWS', rows.join(', '));
    statements.set(messages, text);
  }
  return text;
}

interface BatchRow {
  message_ids: number[];
  reused: number;
  committed: number;
  inserted: number;
  entry_ords: number[] | null;
  entry_mailboxes: number[] | null;
  entry_uids: number[] | null;
  entry_users: number[] | null;
}

/** The batch's statement found something a delivery alone reports better: roll back, run them alone. */
class BatchRefused extends Error {}

export class DeliveryBatcher {
  private readonly queue: Waiting[] = [];
  private running = false;

  constructor(
    private readonly db: Database,
    /** Runs one delivery in a transaction of its own (after its batch failed). */
    private readonly alone: (delivery: QueuedDelivery) => Promise<DeliveryResult>,
    /** Told after a commit that left search text for the indexer. */
    private readonly onTextPending: () => void,
  ) {}

  /** Resolves once a COMMIT that holds the delivery has returned. */
  submit(delivery: QueuedDelivery): Promise<DeliveryResult> {
    // Tracked from now on, not only once its batch starts: closing the store waits for it.
    return this.db.track(
      () =>
        new Promise<DeliveryResult>((resolve, reject) => {
          this.queue.push({ delivery, resolve, reject });
          this.pump();
        }),
    );
  }

  private pump(): void {
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    const batch = this.queue.splice(0, MAX_BATCH);
    void this.write(batch).finally(() => {
      this.running = false;
      this.pump();
    });
  }

  private async write(batch: Waiting[]): Promise<void> {
    let reachedCommit = false;
    let results: DeliveryResult[];
    try {
      results = await this.db.transaction(async (tx) => {
        reachedCommit = false;
        const out = await this.writeInTx(tx, batch.map((w) => w.delivery));
        reachedCommit = true;
        return out;
      });
    } catch (err) {
      if (reachedCommit) {
        for (const w of batch) w.reject(err);
        return;
      }
      // Nothing of the batch was written: each delivery on its own, all at once (they wait for
      // the same locks in turn, as deliveries always did).
      await Promise.all(batch.map((w) => this.alone(w.delivery).then(w.resolve, w.reject)));
      return;
    }
    for (const [i, w] of batch.entries()) w.resolve(results[i]!);
  }

  private async writeInTx(tx: Tx, deliveries: readonly QueuedDelivery[]): Promise<DeliveryResult[]> {
    const m = {
      bodyIds: [] as Array<number | null>,
      sizes: [] as number[],
      tailSeqs: [] as number[],
      dates: [] as Date[],
      headers: [] as string[],
      envelopes: [] as Array<string | null>,
      textStates: [] as string[],
    };
    const large: unknown[] = [];
    const small: TextColumn[] = ['subject', 'from_addr', 'to_addr', 'cc_addr', 'bcc_addr'];
    const text = { msg: [] as number[], state: [] as string[], columns: small.map(() => [] as Array<string | null>) };
    const t = { msg: [] as number[], user: [] as Array<number | null>, folder: [] as Array<string | null>, mailbox: [] as Array<number | null>, flags: [] as string[] };
    for (const [i, d] of deliveries.entries()) {
      const ord = i + 1;
      m.bodyIds.push(d.writer.bodyId);
      m.sizes.push(d.size);
      m.tailSeqs.push(d.writer.tailSeq);
      m.dates.push(d.internalDate);
      m.headers.push(d.headers);
      m.envelopes.push(d.envelope);
      m.textStates.push(d.textState);
      const pending = d.pendingText?.text;
      large.push(d.writer.takeHead(), d.writer.takeTail(), d.structure, pending?.columns.headers ?? null, pending?.columns.body ?? null, pending?.bodyWords ?? null);
      if (d.pendingText) {
        text.msg.push(ord);
        text.state.push(d.pendingText.state);
        for (const [c, column] of small.entries()) text.columns[c]!.push(d.pendingText.text.columns[column]);
      }
      for (const userId of d.userIds) {
        t.msg.push(ord);
        t.user.push(userId);
        t.folder.push(d.folder);
        t.mailbox.push(null);
        t.flags.push('');
      }
      for (const copy of d.copies) {
        t.msg.push(ord);
        t.user.push(null);
        t.folder.push(null);
        t.mailbox.push(copy.mailboxId);
        // Flags travel as one space-separated string per entry (no flag contains a space).
        t.flags.push(copy.flags.join(' '));
      }
    }
    const row = (await tx.one<BatchRow>(deliverBatch(deliveries.length), [
      m.bodyIds,
      m.sizes,
      m.tailSeqs,
      m.dates,
      m.headers,
      m.envelopes,
      m.textStates,
      text.msg,
      text.state,
      ...text.columns,
      t.msg,
      t.user,
      t.folder,
      t.mailbox,
      t.flags,
      ...large,
    ]))!;
    // Every pending body still there, every target resolved to a mailbox that exists: else the
    // deliveries alone say which one failed, and why.
    if (row.committed !== row.reused || row.inserted !== t.msg.length || (row.entry_ords?.length ?? 0) !== t.msg.length) {
      throw new BatchRefused('a delivery of the batch cannot be made as asked');
    }
    const results: DeliveryResult[] = deliveries.map((_, i) => ({ messageId: row.message_ids[i]!, entries: [], queueId: null }));
    for (let k = 0; k < t.msg.length; k++) {
      // entry_ords are the targets' ordinals, ascending: the k-th is target k.
      const result = results[t.msg[k]! - 1]!;
      result.entries.push({ userId: row.entry_users![k]!, mailboxId: row.entry_mailboxes![k]!, uid: row.entry_uids![k]! });
      tx.touch(row.entry_mailboxes![k]!);
    }
    let textPending = false;
    for (const d of deliveries) {
      tx.afterCommit(() => d.writer.markCommitted());
      if (d.pendingText) textPending = true;
    }
    if (textPending) tx.afterCommit(() => this.onTextPending());
    return results;
  }
}
