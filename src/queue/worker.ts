/**
 * The outbound queue worker: takes due messages from the store's queue (QueueStore) and hands
 * them to the transport, one destination domain at a time, then records what happened.
 *
 * - It sleeps until the earliest next attempt (store.nextDue), or until watchQueue says that
 *   something was queued, retried or released on any node, or kick() is called.
 * - Each claimed message is leased to this worker and the lease is renewed while it works; a
 *   worker that dies leaves the message to be taken again once its lease expires. A worker
 *   that lost its lease (it stalled, another took the message) records nothing.
 * - A temporary failure is retried after firstRetryMs, doubling per attempt up to maxRetryMs
 *   (schedule.ts); past giveUpMs since the message was queued it becomes final.
 * - A final failure gets a delivery status notification to the sender (notices.ts), issued
 *   BEFORE the failure is recorded: a crash in between means a second report, never none.
 *   A message from the null sender <> never gets one. A message still deferred after
 *   delayNoticeMs gets one delay notice.
 *
 * The clock (`now`) is injectable: it decides what is due and when to give up, so tests can
 * play hours of retries in moments. Leases run on the store's own clock.
 */
import { randomBytes } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import type { DeliveryConfig } from '../config/types.js';
import type { Logger } from '../net/types.js';
import type { MailboxWatch, QueuedMessage, QueuedRecipient, Store } from '../store/types.js';
import { withoutReturnPath } from './return-path.js';
import { settleAttempt, type Attempted } from './settle.js';
import { Slots } from '../net/slots.js';
import type { RecipientOutcome, Transport } from './transport.js';

export interface QueueWorkerOptions {
  store: Store;
  config: { delivery: DeliveryConfig };
  log: Logger;
  transport: Transport;
  /** This server's name: Reporting-MTA and MAILER-DAEMON@ of its reports. */
  hostname: string;
  /** The clock that decides what is due (default: the system clock). */
  now?: () => Date;
  /** How long a claimed message stays this worker's without renewal (default 1 minute). */
  leaseMs?: number;
  /** The claim owner's name; unique per worker (default: host, process and a random part). */
  owner?: string;
}

export interface QueueWorker {
  /**
   * Stops claiming, aborts the deliveries under way (what they finished is recorded, the rest
   * is released for the next worker) and resolves once every claim is settled.
   */
  stop(): Promise<void>;
  /** Looks at the queue now instead of at the next planned time. */
  kick(): void;
}

/**
 * A node killed mid-delivery leaves its claims for this long; renewed every third of it while a
 * delivery runs, so a slow peer does not lose its lease. Short, so mail waits little after a crash.
 */
const DEFAULT_LEASE_MS = 60_000;
/** Longest sleep without looking at the queue (a lost notification, a clock that jumped). */
const MAX_SLEEP_MS = 60_000;
/** Something is due but leased (by this worker or another node): look again after this. */
const LEASED_RECHECK_MS = 5_000;
/** After a store error, wait this long before trying again. */
const ERROR_BACKOFF_MS = 5_000;
/** Messages claimed in one go at most. */
const MAX_CLAIM = 50;

export function startQueueWorker(options: QueueWorkerOptions): QueueWorker {
  const worker = new Worker(options);
  worker.start();
  return { stop: () => worker.stop(), kick: () => worker.wake() };
}

/** Resolves or rejects as `promise` does, or rejects as soon as `signal` aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}


class Worker {
  private readonly store: Store;
  private readonly log: Logger;
  private readonly settings: DeliveryConfig;
  private readonly now: () => Date;
  private readonly leaseMs: number;
  private readonly owner: string;
  private readonly capacity: number;
  /** Connections to other servers under way, across every message. */
  private readonly connections: Slots;
  /** Messages being worked on. */
  private readonly tasks = new Set<Promise<void>>();
  private readonly stopSignal = new AbortController();
  private stopping: Promise<void> | null = null;
  private loop: Promise<void> = Promise.resolve();
  private watch: MailboxWatch | null = null;
  private woken = false;
  private wakeSleeper: (() => void) | null = null;

  constructor(private readonly options: QueueWorkerOptions) {
    this.store = options.store;
    this.log = options.log;
    this.settings = options.config.delivery;
    this.now = options.now ?? (() => new Date());
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.owner = options.owner ?? `${osHostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.capacity = Math.max(1, this.settings.maxConnections);
    this.connections = new Slots(this.capacity);
  }

  start(): void {
    this.watch = this.store.watchQueue(() => this.wake());
    this.loop = this.run();
  }

  wake(): void {
    this.woken = true;
    const sleeper = this.wakeSleeper;
    this.wakeSleeper = null;
    sleeper?.();
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.watch?.close();
      this.stopSignal.abort(new Error('the queue worker is stopping'));
      this.wake();
      await this.loop;
      while (this.tasks.size > 0) await Promise.allSettled([...this.tasks]);
    })();
    return this.stopping;
  }

  private get stopped(): boolean {
    return this.stopSignal.signal.aborted;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let delay: number;
      try {
        delay = await this.round();
      } catch (err) {
        if (this.stopped) break;
        this.log.error('queue.worker_error', { error: err });
        delay = ERROR_BACKOFF_MS;
      }
      if (delay > 0) await this.sleep(delay);
    }
  }

  /** Sleeps `ms`, or less when woken (a wake that came while awake counts too). */
  private sleep(ms: number): Promise<void> {
    if (this.woken || this.stopped) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeSleeper = null;
        this.woken = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeSleeper = done;
    });
  }

  /** Claims what is due and can be started now; resolves with how long to wait before looking again. */
  private async round(): Promise<number> {
    const free = this.capacity - this.tasks.size;
    if (free > 0) {
      const asked = Math.min(free, MAX_CLAIM);
      const claimed = await this.store.claimDue(this.owner, this.now(), asked, this.leaseMs);
      for (const message of claimed) this.startTask(message);
      // A full batch: there may be more.
      if (claimed.length === asked && !this.stopped) return 0;
    }
    const due = await this.store.nextDue();
    if (due === null) return MAX_SLEEP_MS;
    const wait = due.getTime() - this.now().getTime();
    if (wait > 0) return Math.min(wait, MAX_SLEEP_MS);
    // Due but not claimable: leased by this worker (a finishing task wakes the loop) or another.
    return LEASED_RECHECK_MS;
  }

  private startTask(message: QueuedMessage): void {
    const task = this.process(message)
      .catch((err) => this.log.error('queue.message_error', { queueId: message.id, error: err }))
      .finally(() => {
        this.tasks.delete(task);
        this.wake();
      });
    this.tasks.add(task);
  }

  /** Attempts a claimed message's due recipients, domain by domain, and records the outcomes. */
  private async process(message: QueuedMessage): Promise<void> {
    const work = new AbortController();
    const onStop = () => work.abort(this.stopSignal.signal.reason);
    this.stopSignal.signal.addEventListener('abort', onStop, { once: true });
    if (this.stopped) onStop();
    let lost = false;
    const renewal = setInterval(() => {
      this.store.renewClaim(message.id, this.owner, this.leaseMs).then(
        (held) => {
          if (held) return;
          lost = true;
          work.abort(new Error('the claim was lost'));
        },
        (err) => this.log.warn('queue.renew_failed', { queueId: message.id, error: err }),
      );
    }, Math.max(1, Math.floor(this.leaseMs / 3)));
    try {
      const started = this.now().getTime();
      const byDomain = new Map<string, QueuedRecipient[]>();
      for (const r of message.recipients) {
        if (r.status !== 'pending' || r.nextAttemptAt.getTime() > started) continue;
        const list = byDomain.get(r.domain);
        if (list) list.push(r);
        else byDomain.set(r.domain, [r]);
      }
      const attempted: Attempted[] = [];
      await Promise.all(
        [...byDomain].map(async ([domain, recipients]) => {
          attempted.push(...(await this.attemptDomain(message, domain, recipients, work.signal)));
        }),
      );
      if (lost) {
        this.log.warn('queue.claim_lost', { queueId: message.id });
        return;
      }
      await settleAttempt(
        {
          store: this.store,
          log: this.log,
          settings: this.settings,
          hostname: this.options.hostname,
          owner: this.owner,
          leaseMs: this.leaseMs,
        },
        message,
        attempted,
        this.now(),
      );
    } finally {
      clearInterval(renewal);
      this.stopSignal.signal.removeEventListener('abort', onStop);
    }
  }

  /** One transport call for one domain; nothing (no outcome at all) when aborted first. */
  private async attemptDomain(
    message: QueuedMessage,
    domain: string,
    recipients: QueuedRecipient[],
    signal: AbortSignal,
  ): Promise<Attempted[]> {
    try {
      await this.connections.acquire(signal);
    } catch {
      return [];
    }
    try {
      let outcomes: RecipientOutcome[];
      try {
        const delivery = this.options.transport.deliver(
          {
            queueId: message.id,
            domain,
            mailFrom: message.mailFrom,
            recipients: recipients.map((r) => r.address),
            size: message.size,
            eightBit: message.eightBit,
            smtputf8: message.smtputf8,
            body: () => withoutReturnPath(this.store.readBody(message.messageId)),
          },
          signal,
        );
        outcomes = await abortable(delivery, signal);
      } catch (err) {
        if (signal.aborted) return [];
        // The transport promises outcomes, not exceptions; one that throws anyway defers.
        const reply = `delivery to ${domain} failed: ${(err as Error)?.message ?? String(err)}`;
        outcomes = recipients.map((r) => ({ address: r.address, outcome: 'deferred' as const, reply }));
      }
      // Matched by address; one whose case the transport changed still matches.
      const exact = new Map<string, RecipientOutcome>();
      const folded = new Map<string, RecipientOutcome>();
      for (const o of Array.isArray(outcomes) ? outcomes : []) {
        if (typeof o?.address !== 'string') continue;
        if (!exact.has(o.address)) exact.set(o.address, o);
        if (!folded.has(o.address.toLowerCase())) folded.set(o.address.toLowerCase(), o);
      }
      return recipients.map((recipient) => {
        const outcome: RecipientOutcome = exact.get(recipient.address) ?? folded.get(recipient.address.toLowerCase()) ?? {
          address: recipient.address,
          outcome: 'deferred',
          reply: 'no outcome reported for this recipient',
        };
        this.log.info('queue.attempt', {
          queueId: message.id,
          domain,
          recipient: recipient.address,
          outcome: outcome.outcome,
          reply: outcome.reply,
          remoteMta: outcome.remoteMta,
        });
        return { recipient, outcome };
      });
    } finally {
      this.connections.release();
    }
  }
}
