import type { Command } from 'commander';
import type { ConfigOptions } from '../config/load.js';
import { oneLine } from '../queue/dsn.js';
import type { QueuedMessage, QueuedRecipient, Store } from '../store/types.js';
import { addConfigOptions, printLines, withStore } from './common.js';
import { CliError, UsageError } from './errors.js';

function parseQueueId(text: string): number {
  const id = /^\d{1,15}$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!Number.isSafeInteger(id) || id <= 0) throw new UsageError(`invalid queue id ${JSON.stringify(text)}: use the number wharf queue list shows`);
  return id;
}

/** Times as ISO 8601 in UTC, to the second: sortable, unambiguous in a terminal. */
function time(date: Date | null): string {
  return date ? date.toISOString().replace(/\.\d{3}Z$/, 'Z') : '-';
}

function path(address: string): string {
  return `<${address}>`;
}

function reply(text: string | null): string {
  return text === null ? '-' : JSON.stringify(oneLine(text, 200));
}

/** The recipient's line in `list`: state, attempts, last reply, next try (while it waits). */
function recipientLine(r: QueuedRecipient): string {
  const parts = [`  ${r.address}`, r.status, `attempts=${r.attempts}`];
  if (r.status === 'pending') parts.push(`next=${time(r.nextAttemptAt)}`);
  parts.push(`last=${reply(r.lastReply)}`);
  return parts.join(' ');
}

function messageLine(m: QueuedMessage): string {
  return `${m.id} from=${path(m.mailFrom)} size=${m.size} queued=${time(m.createdAt)}`;
}

async function requireQueued(store: Store, id: number): Promise<QueuedMessage> {
  const queued = await store.getQueued(id);
  if (!queued) throw new CliError(`no queued message ${id}`);
  return queued;
}

/** `wharf queue list|show|retry|delete|hold|release`: the outbound queue. */
export function registerQueueCommands(program: Command): void {
  const queue = program.command('queue').description('look at and manage the outbound mail queue');

  addConfigOptions(queue.command('list'))
    .description('list queued messages, each with its recipients\' state, attempts, last reply and next try')
    .action(async (options: ConfigOptions) => {
      const messages = await withStore(options, (store) => store.listQueue());
      printLines(messages.flatMap((m) => [messageLine(m), ...m.recipients.map(recipientLine)]));
    });

  addConfigOptions(queue.command('show').argument('<id>', 'queue id (from wharf queue list)'))
    .description('show one queued message in detail')
    .action(async (idText: string, options: ConfigOptions) => {
      const id = parseQueueId(idText);
      const { queued, subject, sender } = await withStore(options, async (store) => {
        const queued = await requireQueued(store, id);
        const message = await store.getMessage(queued.messageId);
        const sender = queued.senderUserId === null ? null : await store.getUserById(queued.senderUserId);
        return { queued, subject: message?.headers.subject ?? null, sender };
      });
      const lines = [
        `queue id: ${queued.id}`,
        `message id: ${queued.messageId}`,
        `from: ${path(queued.mailFrom)}`,
        `submitted by: ${sender ? sender.address : '-'}`,
        `subject: ${subject === null ? '-' : JSON.stringify(oneLine(subject, 200))}`,
        `size: ${queued.size}`,
        `queued: ${time(queued.createdAt)}`,
        `8bitmime: ${queued.eightBit ? 'yes' : 'no'}`,
        `smtputf8: ${queued.smtputf8 ? 'yes' : 'no'}`,
        `delay notice sent: ${queued.delayNotified ? 'yes' : 'no'}`,
      ];
      for (const r of queued.recipients) {
        lines.push(
          `recipient: ${r.address}`,
          `  status: ${r.status}`,
          `  attempts: ${r.attempts}`,
          `  next attempt: ${r.status === 'pending' ? time(r.nextAttemptAt) : '-'}`,
          `  last attempt: ${time(r.lastAttemptAt)}`,
          `  last reply: ${reply(r.lastReply)}`,
          `  report sent: ${r.dsnSent ? 'yes' : 'no'}`,
        );
      }
      printLines(lines);
    });

  addConfigOptions(queue.command('retry').argument('[id]', 'queue id; every queued message when omitted'))
    .description('try waiting recipients again now (of one message, or of all)')
    .action(async (idText: string | undefined, options: ConfigOptions) => {
      const id = idText === undefined ? undefined : parseQueueId(idText);
      const count = await withStore(options, async (store) => {
        if (id !== undefined) await requireQueued(store, id);
        return store.retryNow(id);
      });
      const what = id === undefined ? 'in the queue' : `of queued message ${id}`;
      process.stdout.write(`${count} recipient${count === 1 ? '' : 's'} ${what} due now\n`);
    });

  addConfigOptions(queue.command('delete').argument('<id>', 'queue id'))
    .description('remove a message from the queue without telling its sender')
    .action(async (idText: string, options: ConfigOptions) => {
      const id = parseQueueId(idText);
      const deleted = await withStore(options, (store) => store.deleteQueued(id));
      if (!deleted) throw new CliError(`no queued message ${id}`);
      process.stdout.write(`deleted queued message ${id}\n`);
    });

  for (const [name, held, description, verb] of [
    ['hold', true, 'keep a message\'s waiting recipients from being tried until released', 'held'],
    ['release', false, 'let held recipients be tried again, now', 'released'],
  ] as const) {
    addConfigOptions(queue.command(name).argument('<id>', 'queue id'))
      .description(description)
      .action(async (idText: string, options: ConfigOptions) => {
        const id = parseQueueId(idText);
        const count = await withStore(options, async (store) => {
          await requireQueued(store, id);
          return store.setHeld(id, held);
        });
        process.stdout.write(`${verb} ${count} recipient${count === 1 ? '' : 's'} of queued message ${id}\n`);
      });
  }
}
