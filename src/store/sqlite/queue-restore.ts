/**
 * restoreQueued on SQLite (`wharf store copy`): a queued message recreated with its
 * recipients' states, its body streamed in (or shared with a message already stored), in one
 * write transaction.
 */
import { normalizeQueuedRestore } from '../queue-normalize.js';
import { StoreError, type BodyWriter, type QueuedMessage, type QueuedRestore } from '../types.js';
import type { BodyStore } from './bodies.js';
import type { Messages } from './messages.js';
import type { SqliteQueue } from './queue.js';
import type { Db } from './schema.js';
import type { WriteQueue } from './write-queue.js';

export class SqliteQueueRestore {
  private readonly messageSize;

  constructor(
    db: Db,
    private readonly queue: WriteQueue,
    private readonly bodies: BodyStore,
    private readonly messages: Messages,
    private readonly outbound: SqliteQueue,
  ) {
    this.messageSize = db.prepare('SELECT size FROM messages WHERE id = ?').pluck();
  }

  async restore(input: QueuedRestore): Promise<QueuedMessage> {
    const checked = normalizeQueuedRestore(input);
    const shared = input.body && 'messageId' in input.body ? input.body.messageId : null;
    const writer = shared === null ? this.bodies.claim(input.body as BodyWriter) : null;
    const commit = () => {
      writer?.analysis(); // finished here rather than inside the shared write transaction
      return this.queue.run((tx) => {
        if (writer) {
          const envelope = { mailFrom: checked.mailFrom, rcptTo: checked.recipients.map((r) => r.address) };
          const messageId = this.messages.storeMessageInTx(tx, writer, checked.createdAt, input.headers, envelope);
          return this.outbound.restoreInTx(tx, messageId, writer.size, checked);
        }
        const size = this.messageSize.get(shared) as number | undefined;
        if (size === undefined) throw new StoreError('not-found', `no message ${shared}`);
        return this.outbound.restoreInTx(tx, shared!, size, checked);
      });
    };
    return writer ? writer.commitWith(commit) : commit();
  }
}
