/**
 * restoreQueued on PostgreSQL (`wharf store copy`): a queued message recreated with its
 * recipients' states, its body streamed in (or shared with a message already stored), in one
 * transaction.
 */
import { normalizeQueuedRestore } from '../queue-normalize.js';
import { StoreError, type BodyWriter, type QueuedMessage, type QueuedRestore } from '../types.js';
import type { BodyStore } from './bodies.js';
import type { Database } from './db.js';
import { isId } from './mailboxes.js';
import type { Messages } from './messages.js';
import type { PostgresQueue } from './queue.js';

export class PostgresQueueRestore {
  constructor(
    private readonly db: Database,
    private readonly bodies: BodyStore,
    private readonly messages: Messages,
    private readonly outbound: PostgresQueue,
  ) {}

  async restore(input: QueuedRestore): Promise<QueuedMessage> {
    const checked = normalizeQueuedRestore(input);
    const shared = input.body && 'messageId' in input.body ? input.body.messageId : null;
    const writer = shared === null ? this.bodies.claim(input.body as BodyWriter) : null;
    const commit = () => {
      writer?.analysis(); // finished before the transaction starts: it holds locks
      return this.db.transaction(async (tx) => {
        if (writer) {
          const envelope = { mailFrom: checked.mailFrom, rcptTo: checked.recipients.map((r) => r.address) };
          const date = new Date(checked.createdAt);
          const messageId = await this.messages.storeMessageInTx(tx, writer, date, input.headers, envelope);
          return this.outbound.restoreInTx(tx, messageId, writer.size, checked);
        }
        const row = isId(shared!)
          ? await tx.one<{ size: number }>('SELECT size FROM messages WHERE id = $1 FOR KEY SHARE', [shared])
          : undefined;
        if (!row) throw new StoreError('not-found', `no message ${shared}`);
        return this.outbound.restoreInTx(tx, shared!, row.size, checked);
      });
    };
    return writer ? writer.commitWith(commit) : commit();
  }
}
