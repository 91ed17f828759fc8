/** Store contract, SearchStore: exact case-insensitive substring search of decoded text. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createMessageAnalyzer } from '../../src/mime/analyzer.js';
import type { Store } from '../../src/store/types.js';
import { contractSuite, type OpenStore } from './contract.js';
import { bodyOf, rejectsWith, setupUsers } from './helpers.js';

/** Delivers a whole message (header block and body) to the users' INBOX; the store parses it. */
async function deliverMessage(store: Store, userIds: number[], message: string | Buffer) {
  return store.deliver({
    body: await bodyOf(store, message),
    internalDate: new Date(),
    envelope: { mailFrom: 'sender@remote.test', rcptTo: ['alice@example.com'] },
    userIds,
  });
}

function message(headers: Record<string, string>, body: string): string {
  return `${Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')}\r\n${body}`;
}

export function runSearchContract(backend: string, open: OpenStore): void {
  contractSuite(`SearchStore contract: ${backend}`, open, (ctx) => {
    /** Three messages in alice's INBOX (UIDs 1, 2, 3). */
    async function seed(store: Store) {
      const users = await setupUsers(store);
      await deliverMessage(
        store,
        [users.alice.id],
        message(
          { From: 'Jörg Ärger <joerg@example.org>', To: 'alice@example.com', Subject: 'Grüße aus Köln' },
          'Die Änderungen sind fertig.\r\nBis bald.\r\n',
        ),
      );
      await deliverMessage(
        store,
        [users.alice.id],
        message(
          { From: 'bob@example.com', To: 'alice@example.com', Cc: 'carol@example.com', Subject: 'Quarterly REPORT' },
          'Numbers attached. No umlauts here.\r\n',
        ),
      );
      await deliverMessage(
        store,
        [users.alice.id],
        message(
          { From: 'carol@example.com', To: 'team@example.com', Bcc: 'boss@example.com', Subject: 'lunch?' },
          'Pizza or sushi? Reply by 12:00.\r\n',
        ),
      );
      return users;
    }

    it('matches each header field on its own', async () => {
      const { store } = ctx;
      const { inbox } = await seed(store);
      assert.deepEqual(await store.searchText(inbox.id, 'subject', 'report'), [2]);
      assert.deepEqual(await store.searchText(inbox.id, 'from', 'carol'), [3]);
      assert.deepEqual(await store.searchText(inbox.id, 'cc', 'carol'), [2]);
      assert.deepEqual(await store.searchText(inbox.id, 'to', 'team@'), [3]);
      assert.deepEqual(await store.searchText(inbox.id, 'bcc', 'boss'), [3]);
      assert.deepEqual(await store.searchText(inbox.id, 'to', 'alice@example.com'), [1, 2]);
      assert.deepEqual(await store.searchText(inbox.id, 'subject', 'pizza'), [], 'the body is not the subject');
      assert.deepEqual(await store.searchText(inbox.id, 'body', 'lunch'), [], 'the subject is not the body');
    });

    it('matches body text, and headers or body for TEXT', async () => {
      const { store } = ctx;
      const { inbox } = await seed(store);
      assert.deepEqual(await store.searchText(inbox.id, 'body', 'numbers attached'), [2]);
      assert.deepEqual(await store.searchText(inbox.id, 'text', 'lunch'), [3]);
      assert.deepEqual(await store.searchText(inbox.id, 'text', 'pizza'), [3]);
      assert.deepEqual(await store.searchText(inbox.id, 'text', 'example.com'), [1, 2, 3]);
      assert.deepEqual(await store.searchText(inbox.id, 'text', 'nowhere-to-be-found'), []);
    });

    it('ignores case, also beyond ASCII (ä matches Ä)', async () => {
      const { store } = ctx;
      const { inbox } = await seed(store);
      assert.deepEqual(await store.searchText(inbox.id, 'subject', 'GRÜSSE'), [], 'ß is not ss');
      assert.deepEqual(await store.searchText(inbox.id, 'subject', 'GRÜßE AUS'), [1]);
      assert.deepEqual(await store.searchText(inbox.id, 'from', 'ärger'), [1]);
      assert.deepEqual(await store.searchText(inbox.id, 'body', 'ÄNDERUNG'), [1]);
      assert.deepEqual(await store.searchText(inbox.id, 'body', 'änderung'), [1]);
      assert.deepEqual(await store.searchText(inbox.id, 'subject', 'quarterly report'), [2]);
    });

    it('lower-cases each character on its own (a final capital sigma is σ, as anywhere else)', async () => {
      const { store } = ctx;
      const { alice, inbox } = await setupUsers(store);
      await deliverMessage(store, [alice.id], message({ Subject: 'ΟΔΟΣ ΣΤΟ ΚΕΝΤΡΟ' }, 'x'));
      await deliverMessage(store, [alice.id], message({ Subject: 'οδος' }, 'x'));
      assert.deepEqual(await store.searchText(inbox.id, 'subject', 'ΟΔΟΣ'), [1]);
      assert.deepEqual(await store.searchText(inbox.id, 'subject', 'οδοσ'), [1]);
      assert.deepEqual(await store.searchText(inbox.id, 'subject', 'Σ'), [1]);
      assert.deepEqual(await store.searchText(inbox.id, 'subject', 'οδος'), [2], 'ς is not folded to σ');
    });

    it('finds needles of one, two, three and many characters exactly', async () => {
      const { store } = ctx;
      const { inbox } = await seed(store);
      assert.deepEqual(await store.searchText(inbox.id, 'subject', '?'), [3]);
      assert.deepEqual(await store.searchText(inbox.id, 'subject', 'ö'), [1]);
      assert.deepEqual(await store.searchText(inbox.id, 'subject', 'Ö'), [1]);
      assert.deepEqual(await store.searchText(inbox.id, 'subject', 'q'), [2]);
      assert.deepEqual(await store.searchText(inbox.id, 'subject', 'lu'), [3]);
      assert.deepEqual(await store.searchText(inbox.id, 'body', 'ä'), [1], 'only message 1 has an ä in its body');
      assert.deepEqual(await store.searchText(inbox.id, 'subject', 'RT'), [2]);
      assert.deepEqual(await store.searchText(inbox.id, 'subject', 'xz'), []);
      assert.deepEqual(await store.searchText(inbox.id, 'subject', 'ötz'), []);
      assert.deepEqual(await store.searchText(inbox.id, 'subject', 'öln'), [1]);
      assert.deepEqual(await store.searchText(inbox.id, 'subject', 'lun'), [3]);
      assert.deepEqual(await store.searchText(inbox.id, 'body', 'sushi? reply by 12:00'), [3]);
      // Every character of the message is in the text, but not in this order: no match.
      assert.deepEqual(await store.searchText(inbox.id, 'body', 'sushi reply'), []);
    });

    it('takes query syntax in a needle literally', async () => {
      const { store } = ctx;
      const { alice, inbox } = await setupUsers(store);
      await deliverMessage(store, [alice.id], message({ Subject: 'say "hi" AND * NEAR(x) {col}' }, 'x'));
      await deliverMessage(store, [alice.id], message({ Subject: 'say hi' }, 'x'));
      assert.deepEqual(await store.searchText(inbox.id, 'subject', '"hi"'), [1]);
      assert.deepEqual(await store.searchText(inbox.id, 'subject', 'AND *'), [1]);
      assert.deepEqual(await store.searchText(inbox.id, 'subject', 'NEAR(x)'), [1]);
      assert.deepEqual(await store.searchText(inbox.id, 'subject', '{col}'), [1]);
      assert.deepEqual(await store.searchText(inbox.id, 'subject', '"'), [1]);
      assert.deepEqual(await store.searchText(inbox.id, 'subject', 'say'), [1, 2]);
    });

    it('matches an empty needle wherever the field is present', async () => {
      const { store } = ctx;
      const { inbox } = await seed(store);
      assert.deepEqual(await store.searchText(inbox.id, 'cc', ''), [2]);
      assert.deepEqual(await store.searchText(inbox.id, 'subject', ''), [1, 2, 3]);
      assert.deepEqual(await store.searchText(inbox.id, 'body', ''), [1, 2, 3]);
    });

    it('searches only the given mailbox, and a message shared by two users in both', async () => {
      const { store } = ctx;
      const { alice, bob, inbox } = await setupUsers(store);
      await deliverMessage(store, [bob.id], message({ Subject: 'only for bob' }, 'secret'));
      await deliverMessage(store, [alice.id, bob.id], message({ Subject: 'for both' }, 'shared'));
      const bobInbox = (await store.getMailbox(bob.id, 'INBOX'))!;
      assert.deepEqual(await store.searchText(inbox.id, 'text', 'secret'), []);
      assert.deepEqual(await store.searchText(inbox.id, 'body', 'shared'), [1]);
      assert.deepEqual(await store.searchText(bobInbox.id, 'body', 'shared'), [2]);
      assert.deepEqual(await store.searchText(inbox.id, 'body', 'e'), [1]);
    });

    it('finds text far past what the index keeps of a long body', async () => {
      const { store } = ctx;
      const { alice, inbox } = await setupUsers(store);
      const filler = 'lorem ipsum dolor sit amet\r\n'.repeat(80_000); // over 2 MB
      await deliverMessage(store, [alice.id], message({ Subject: 'long' }, `${filler}Needle-At-The-End\r\n`));
      await deliverMessage(store, [alice.id], message({ Subject: 'long too' }, `${filler}nothing here\r\n`));
      await deliverMessage(store, [alice.id], message({ Subject: 'short' }, 'needle-at-the-end, early'));
      assert.deepEqual(await store.searchText(inbox.id, 'body', 'NEEDLE-AT-THE-END'), [1, 3]);
      assert.deepEqual(await store.searchText(inbox.id, 'text', 'needle-at-the-end'), [1, 3]);
      assert.deepEqual(await store.searchText(inbox.id, 'body', 'Ne'), [1, 3]);
      assert.deepEqual(await store.searchText(inbox.id, 'body', 'lorem'), [1, 2]);
      assert.deepEqual(await store.searchText(inbox.id, 'subject', 'needle'), [], 'headers are whole in the index');
    });

    it('searches a base64 body by the text the analyzer extracts from it', async () => {
      const { store } = ctx;
      const { alice, inbox } = await setupUsers(store);
      const encoded = Buffer.from('Geheimnis: Überweisung bestätigt\r\n').toString('base64');
      const raw = message(
        { Subject: 'b64', 'Content-Type': 'text/plain; charset=utf-8', 'Content-Transfer-Encoding': 'base64' },
        `${encoded}\r\n`,
      );
      await deliverMessage(store, [alice.id], raw);
      await deliverMessage(store, [alice.id], message({ Subject: 'plain' }, 'nothing'));
      // What the body text is (the encoded or the decoded form) is the analyzer's business:
      // whatever it extracted must be found, in any case.
      const analyzer = createMessageAnalyzer();
      analyzer.write(Buffer.from(raw));
      const text = analyzer.end().text.body.trim();
      assert.ok(text.length > 10);
      const slice = text.slice(3, 11);
      assert.deepEqual(await store.searchText(inbox.id, 'body', slice), [1]);
      assert.deepEqual(await store.searchText(inbox.id, 'body', slice.toUpperCase()), [1]);
      assert.deepEqual(await store.searchText(inbox.id, 'body', slice.toLowerCase()), [1]);
      assert.deepEqual(await store.searchText(inbox.id, 'body', slice.slice(0, 2)), [1]);
    });

    it('forgets an expunged message', async () => {
      const { store } = ctx;
      const { inbox } = await seed(store);
      assert.deepEqual(await store.searchText(inbox.id, 'subject', 'köln'), [1]);
      await store.expunge(inbox.id, [1]);
      assert.deepEqual(await store.searchText(inbox.id, 'subject', 'köln'), []);
      assert.deepEqual(await store.searchText(inbox.id, 'subject', 'ö'), []);
    });

    it('searches entries copied or moved to another mailbox there', async () => {
      const { store } = ctx;
      const { alice, inbox } = await seed(store);
      const archive = (await store.getMailbox(alice.id, 'Archive'))!;
      await store.copyEntries(inbox.id, [2], archive.id);
      await store.moveEntries(inbox.id, [3], archive.id);
      assert.deepEqual(await store.searchText(archive.id, 'subject', 'report'), [1]);
      assert.deepEqual(await store.searchText(archive.id, 'body', 'pizza'), [2]);
      assert.deepEqual(await store.searchText(inbox.id, 'body', 'pizza'), []);
      assert.deepEqual(await store.searchText(inbox.id, 'subject', 'report'), [2]);
    });

    it('rejects an unknown field', async () => {
      const { store } = ctx;
      const { inbox } = await seed(store);
      await rejectsWith(store.searchText(inbox.id, 'date' as 'body', 'x'), 'invalid');
    });
  });
}
