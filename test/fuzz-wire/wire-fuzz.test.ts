/**
 * Wire-level fuzzing of a real `wharf serve`, on a short fixed budget: mutated recordings of
 * SMTP, submission, POP3, IMAP and FTP sessions (plain, after STARTTLS and over implicit TLS,
 * before and after login) and of SFTP packets after an SSH login, then a well-behaved session
 * on every service. The server must stay up, serve every well-behaved client, and give back
 * every descriptor.
 * `npm run fuzz:wire -- --rounds N` runs the same for longer.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FD_SLACK, fuzzWire, RSS_SLACK_BYTES } from '../../fuzz/wire/fuzzer.js';
import { mutate } from '../../fuzz/wire/mutate.js';
import { dataPort } from '../../fuzz/wire/replay.js';
import { Rng } from '../../fuzz/engine/rng.js';
import type { WireSession } from '../../fuzz/wire/session.js';

describe('wire fuzzing of a running server', () => {
  it('mutated sessions on every protocol: no restart, every well-behaved client served, descriptors back to the baseline', async () => {
    const workDir = await mkdtemp(join(tmpdir(), 'wharf-wire-fuzz-'));
    const log: string[] = [];
    try {
      const s = await fuzzWire({ rounds: 1, seed: 12, perRound: 2, concurrency: 8, workDir, log: (l) => log.push(l) });
      const why = `${log.join('\n')}\n${JSON.stringify(s.findings)}`;
      assert.equal(s.restarts, 0, why);
      assert.equal(s.rounds, 1, why);
      assert.equal(s.sessionsSent, 2 * 19, why);
      assert.deepEqual(s.goodFailures, [], why);
      // Ten services checked after the warm-up and after the round.
      assert.equal(s.goodChecks, 20, why);
      assert.ok(s.end.openFds <= s.baseline.openFds + FD_SLACK, `fds ${s.baseline.openFds} -> ${s.end.openFds}\n${why}`);
      assert.ok(s.end.rssBytes <= s.baseline.rssBytes + RSS_SLACK_BYTES, `rss ${s.baseline.rssBytes} -> ${s.end.rssBytes}`);
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  });

  it('mutations are repeatable from the seed and change the session', () => {
    const recorded: WireSession = {
      name: 'r',
      service: 'imap',
      mutations: [],
      steps: ['a LOGIN u p', 'b SELECT INBOX', 'c LOGOUT'].map((t) => ({ kind: 'line' as const, text: Buffer.from(t), eol: Buffer.from('\r\n'), delivery: { kind: 'whole' as const } })),
    };
    const a = mutate(recorded, new Rng(7));
    const b = mutate(recorded, new Rng(7));
    assert.deepEqual(a, b);
    assert.ok(a.mutations.length >= 1);
    assert.equal(recorded.steps.length, 3, 'the recording itself is left alone');
    assert.equal(recorded.steps[0]!.text.toString(), 'a LOGIN u p');
  });

  it('finds the data port in PASV and EPSV replies', () => {
    assert.equal(dataPort('227 Entering Passive Mode (127,0,0,1,200,10).\r\n'), 200 * 256 + 10);
    assert.equal(dataPort('229 Entering Extended Passive Mode (|||51234|)\r\n'), 51234);
    assert.equal(dataPort('500 no\r\n'), null);
  });
});
