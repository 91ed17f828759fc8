/**
 * IMAP APPEND under a crash: every message answered OK [APPENDUID] is there, whole, after
 * the process is killed and restarted; nothing half-appended shows up.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeTempDir, removeDir } from '../helpers/cli.js';
import { startWharf } from '../helpers/wharf.js';
import { ImapClient } from '../imap/harness.js';
import { addBob, BOB_PASSWORD } from './setup.js';

describe('a crash during APPEND', () => {
  it('SIGKILL while clients append: every acknowledged message survives, whole', async () => {
    const dataDir = await makeTempDir('wharf-imap-crash-');
    try {
      const first = await startWharf({ dataDir });
      await addBob(first);
      const acked = new Set<string>();
      const client = async (n: number) => {
        const imap = await ImapClient.connect(first.ports.imap!);
        try {
          await imap.login('bob@hamburger.edu', BOB_PASSWORD);
          for (let i = 1; ; i++) {
            const id = `c${n}-m${i}`;
            const body = `Subject: ${id}\r\n\r\n${`filler for ${id}\r\n`.repeat(300)}end of ${id}\r\n`;
            imap.send(`a${i} APPEND INBOX {${body.length}+}\r\n${body}\r\n`);
            const done = await imap.complete(`a${i}`);
            if (!/^a\d+ OK \[APPENDUID /.test(done.tagged)) throw new Error(done.tagged);
            acked.add(id);
          }
        } catch {
          // Killed under it: what was not acknowledged may be lost.
        } finally {
          imap.close();
        }
      };
      const clients = Promise.all([1, 2, 3].map(client));
      while (acked.size < 30) await new Promise((r) => setTimeout(r, 10));
      first.stop('SIGKILL');
      assert.equal(await first.exited, 137);
      await clients;

      const second = await startWharf({ dataDir });
      try {
        const imap = await ImapClient.connect(second.ports.imap!);
        await imap.login('bob@hamburger.edu', BOB_PASSWORD);
        await imap.command('EXAMINE INBOX');
        const all = await imap.command('FETCH 1:* (BODY.PEEK[])');
        const stored = new Set<string>();
        for (const line of all.untagged) {
          const id = /Subject: (\S+)/.exec(line)?.[1];
          assert.ok(id, `a message without Subject: ${line.slice(0, 80)}`);
          assert.ok(line.includes(`end of ${id}\r\n`), `${id} is cut short`);
          assert.ok(!stored.has(id), `${id} stored twice`);
          stored.add(id);
        }
        const lost = [...acked].filter((id) => !stored.has(id));
        assert.deepEqual(lost, [], `acknowledged but lost: ${lost.join(', ')}`);
        imap.close();
      } finally {
        assert.equal(await second.stop(), 0);
      }
    } finally {
      await removeDir(dataDir);
    }
  });
});
