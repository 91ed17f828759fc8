/**
 * What the queue worker tests share: a real store (SQLite, or PostgreSQL with
 * WHARF_TEST_STORE=postgres), a clock the test moves, a scripted Transport that records every
 * call, a logger that keeps its lines, and helpers to queue messages and read reports.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DeliveryConfig } from '../../src/config/types.js';
import { createLogger } from '../../src/net/log.js';
import type { DeliveryAttempt, RecipientOutcome, Transport } from '../../src/queue/transport.js';
import { startQueueWorker, type QueueWorker } from '../../src/queue/worker.js';
import type { MimePart } from '../../src/mime/analysis.js';
import type { Store, User } from '../../src/store/types.js';
import { openTestStore } from '../helpers/test-store.js';
import { testConfig } from '../helpers/service.js';
import { bodyOf, readAll, waitFor } from '../store/helpers.js';

export const HOSTNAME = 'mail.example.org';
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;

export interface RecordedCall {
  attempt: DeliveryAttempt;
  /** The body as the transport read it. */
  body: Buffer;
  /** The clock when the transport was called. */
  at: number;
}

/** Decides the outcomes of one call (may wait, e.g. until aborted). */
export type Script = (attempt: DeliveryAttempt, signal?: AbortSignal) => RecipientOutcome[] | Promise<RecipientOutcome[]>;

export class ScriptedTransport implements Transport {
  readonly calls: RecordedCall[] = [];
  active = 0;
  maxActive = 0;
  closed = false;

  constructor(
    public script: Script,
    private readonly clock: () => number = Date.now,
  ) {}

  async deliver(attempt: DeliveryAttempt, signal?: AbortSignal): Promise<RecipientOutcome[]> {
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      const body = await readAll(attempt.body());
      this.calls.push({ attempt, body, at: this.clock() });
      return await this.script(attempt, signal);
    } finally {
      this.active--;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Every recipient the transport was asked about, in call order. */
  recipients(): string[] {
    return this.calls.flatMap((c) => c.attempt.recipients);
  }
}

/** Every recipient gets `code text` ('delivered' for 2xx, 'bounced' for 5xx, else 'deferred'). */
export function answerAll(reply: string, remoteMta = 'mx.remote.example'): Script {
  return (attempt) =>
    attempt.recipients.map((address) => ({
      address,
      outcome: reply.startsWith('2') ? 'delivered' : reply.startsWith('5') ? 'bounced' : 'deferred',
      reply,
      remoteMta,
    }));
}

export class TestClock {
  private skipped = 0;
  now(): number {
    return Date.now() + this.skipped;
  }
  /** Moves the clock on to `time` (never back). */
  advanceTo(time: number): void {
    this.skipped += Math.max(0, time - this.now());
  }
}

export interface Harness {
  store: Store;
  alice: User;
  /** The test's clock, what the worker takes as now: real time plus what the test skipped. */
  clock: TestClock;
  logLines: string[];
  delivery: DeliveryConfig;
  start(transport: Transport, options?: { leaseMs?: number; owner?: string }): QueueWorker;
  /** Queues `text` for remote recipients (mailFrom alice's address unless given). */
  enqueue(
    recipients: string[],
    options?: { text?: string; mailFrom?: string; senderUserId?: number | null },
  ): Promise<{ queueId: number; messageId: number }>;
  /** Bodies of the messages in alice's INBOX, oldest first. */
  inbox(): Promise<Buffer[]>;
  close(): Promise<void>;
}

export const ORIGINAL_TEXT =
  'From: Alice <alice@example.org>\r\nTo: someone@remote.example\r\nSubject: Quarterly numbers\r\n' +
  'Message-ID: <orig-1@example.org>\r\n\r\nThe secret body text that must never be logged.\r\n';

export async function openHarness(delivery: Partial<DeliveryConfig> = {}): Promise<Harness> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'wharf-queue-'));
  const store = await openTestStore(dataDir);
  const config = testConfig(dataDir, { delivery });
  await store.addDomain('example.org');
  const alice = await store.addUser({ address: 'alice@example.org', passwordHash: 'x' });
  const clock = new TestClock();
  const logLines: string[] = [];
  const log = createLogger({ level: 'debug', write: (line) => logLines.push(line) });
  const workers: QueueWorker[] = [];
  return {
    store,
    alice,
    clock,
    logLines,
    delivery: config.delivery,
    start(transport, options = {}) {
      const worker = startQueueWorker({
        store,
        config,
        log,
        transport,
        hostname: HOSTNAME,
        now: () => new Date(clock.now()),
        ...options,
      });
      workers.push(worker);
      return worker;
    },
    async enqueue(recipients, options = {}) {
      const mailFrom = options.mailFrom ?? alice.address;
      const result = await store.deliver({
        body: await bodyOf(store, options.text ?? ORIGINAL_TEXT),
        internalDate: new Date(clock.now()),
        envelope: { mailFrom, rcptTo: recipients },
        userIds: [],
        outbound: {
          recipients,
          senderUserId: options.senderUserId === undefined ? alice.id : options.senderUserId,
          eightBit: false,
          smtputf8: false,
        },
      });
      return { queueId: result.queueId!, messageId: result.messageId };
    },
    async inbox() {
      const inbox = (await store.getMailbox(alice.id, 'INBOX'))!;
      const entries = await store.listEntries(inbox.id);
      return Promise.all(entries.map((e) => readAll(store.readBody(e.messageId))));
    },
    async close() {
      await Promise.allSettled(workers.map((w) => w.stop()));
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Waits until the queue holds nothing. */
export async function waitForEmptyQueue(store: Store, what = 'the queue to empty'): Promise<void> {
  let empty = false;
  const deadline = Date.now() + 10_000;
  while (!empty) {
    empty = (await store.listQueue()).length === 0;
    if (!empty) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

export { waitFor };

/**
 * Plays a message's retries in simulated time: each time another attempt is recorded, moves
 * the clock to the next planned one and kicks the worker; resolves once the message left the queue.
 */
export async function playRetries(harness: Harness, worker: QueueWorker, queueId: number, maxRounds = 30): Promise<void> {
  let seen = 0;
  for (let round = 0; round < maxRounds; round++) {
    const deadline = Date.now() + 5000;
    let queued = await harness.store.getQueued(queueId);
    const attempts = () => Math.max(...queued!.recipients.map((r) => r.attempts));
    while (queued && attempts() <= seen) {
      if (Date.now() > deadline) assert.fail(`no attempt ${seen + 1} of queued message ${queueId}`);
      await new Promise((r) => setTimeout(r, 10));
      queued = await harness.store.getQueued(queueId);
    }
    if (!queued) return;
    seen = attempts();
    const next = Math.min(...queued.recipients.filter((r) => r.status === 'pending').map((r) => r.nextAttemptAt.getTime()));
    harness.clock.advanceTo(next);
    worker.kick();
  }
  assert.fail(`queued message ${queueId} still queued after ${maxRounds} attempts`);
}

/** A delivery status notification split into what the tests look at. */
export interface ParsedReport {
  headers: string;
  contentType: string;
  parts: Array<{ type: string; body: string }>;
  /** The per-recipient field groups of the message/delivery-status part. */
  recipients: Array<Record<string, string>>;
  /** Its per-message fields. */
  perMessage: Record<string, string>;
}

function fieldGroups(text: string): Array<Record<string, string>> {
  return text
    .split(/\r\n\r\n/)
    .filter((g) => g.trim().length > 0)
    .map((group) => {
      const fields: Record<string, string> = {};
      for (const line of group.split('\r\n')) {
        const colon = line.indexOf(':');
        if (colon > 0) fields[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      return fields;
    });
}

/** Parses a report with the store's own MIME analysis (getStructure) of the stored message. */
export async function parseReport(store: Store, messageId: number): Promise<ParsedReport> {
  const raw = (await readAll(store.readBody(messageId))).toString('utf8');
  const structure = (await store.getStructure(messageId))!;
  const root = structure.root;
  const headerEnd = raw.indexOf('\r\n\r\n');
  const headers = raw.slice(0, headerEnd + 2);
  const parts = (root.children ?? []).map((p: MimePart) => ({
    type: `${p.type}/${p.subtype}`,
    body: Buffer.from(raw, 'utf8').subarray(p.bodyStart, p.bodyEnd).toString('utf8'),
  }));
  const status = parts.find((p) => p.type === 'message/delivery-status');
  const groups = status ? fieldGroups(status.body) : [];
  return {
    headers,
    contentType: `${root.type}/${root.subtype}; report-type=${root.params['report-type'] ?? ''}`,
    parts,
    perMessage: groups[0] ?? {},
    recipients: groups.slice(1),
  };
}

/** Message ids in alice's INBOX, oldest first. */
export async function inboxMessageIds(harness: Harness): Promise<number[]> {
  const inbox = (await harness.store.getMailbox(harness.alice.id, 'INBOX'))!;
  return (await harness.store.listEntries(inbox.id)).map((e) => e.messageId);
}
