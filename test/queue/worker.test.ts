/**
 * The outbound queue worker against a real store (both backends: WHARF_TEST_STORE=postgres)
 * and a scripted transport: delivery, bounces with their reports, retries over simulated
 * hours, the null sender, and a worker stopped or crashed in the middle of a delivery.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { RecipientOutcome } from '../../src/queue/transport.js';
import { sleep } from '../store/helpers.js';
import {
  HOSTNAME,
  HOUR,
  MINUTE,
  ORIGINAL_TEXT,
  ScriptedTransport,
  answerAll,
  inboxMessageIds,
  openHarness,
  parseReport,
  playRetries,
  waitFor,
  waitForEmptyQueue,
  type Harness,
} from './worker-harness.js';

let harness: Harness | null = null;
afterEach(async () => {
  await harness?.close();
  harness = null;
});

describe('queue worker', () => {
  it('delivers each domain in one transport call, streaming the stored body, and logs no contents', async () => {
    harness = await openHarness();
    const { store } = harness;
    const transport = new ScriptedTransport(answerAll('250 2.0.0 Ok: queued'));
    const { queueId } = await harness.enqueue(['bob@remote.example', 'Carol@remote.example', 'dave@other.example']);
    const worker = harness.start(transport);
    await waitForEmptyQueue(store);
    await worker.stop();

    assert.equal(transport.calls.length, 2);
    const byDomain = new Map(transport.calls.map((c) => [c.attempt.domain, c]));
    assert.deepEqual(byDomain.get('remote.example')!.attempt.recipients, ['bob@remote.example', 'Carol@remote.example']);
    assert.deepEqual(byDomain.get('other.example')!.attempt.recipients, ['dave@other.example']);
    for (const call of transport.calls) {
      assert.equal(call.attempt.queueId, queueId);
      assert.equal(call.attempt.mailFrom, 'alice@example.org');
      assert.equal(call.attempt.size, Buffer.byteLength(ORIGINAL_TEXT));
      assert.equal(call.body.toString(), ORIGINAL_TEXT);
    }
    assert.deepEqual(await inboxMessageIds(harness), [], 'no report for a delivered message');

    const attempts = harness.logLines.map((l) => JSON.parse(l)).filter((l) => l.event === 'queue.attempt');
    assert.equal(attempts.length, 3);
    for (const line of attempts) {
      assert.equal(line.queueId, queueId);
      assert.equal(line.outcome, 'delivered');
      assert.equal(line.reply, '250 2.0.0 Ok: queued');
      assert.ok(['remote.example', 'other.example'].includes(line.domain));
    }
    const everything = harness.logLines.join('\n');
    assert.ok(!everything.includes('Quarterly') && !everything.includes('secret body'), 'no message contents in the log');
  });

  it("puts a report for the one rejected recipient of two into the sender's INBOX", async () => {
    harness = await openHarness();
    const { store } = harness;
    const transport = new ScriptedTransport((attempt) =>
      attempt.recipients.map((address): RecipientOutcome =>
        address.startsWith('ok')
          ? { address, outcome: 'delivered', reply: '250 2.0.0 Ok', remoteMta: 'mx.remote.example' }
          : { address, outcome: 'bounced', reply: `550 5.1.1 <${address}>: Recipient address rejected`, remoteMta: 'mx.remote.example' },
      ),
    );
    await harness.enqueue(['ok@remote.example', 'gone@remote.example']);
    const worker = harness.start(transport);
    await waitForEmptyQueue(store);
    await waitFor(() => transport.calls.length === 1, 'one call');
    const ids = await inboxMessageIds(harness);
    assert.equal(ids.length, 1, 'one report in the INBOX');
    await worker.stop();

    const report = await parseReport(store, ids[0]!);
    assert.match(report.headers, new RegExp(`^From: Mail Delivery System <MAILER-DAEMON@${HOSTNAME.replace(/\./g, '\\.')}>\\r$`, 'm'));
    assert.match(report.headers, /^To: <alice@example\.org>\r$/m);
    assert.match(report.headers, /^Auto-Submitted: auto-replied\r$/m);
    assert.equal(report.contentType, 'multipart/report; report-type=delivery-status');
    assert.deepEqual(report.parts.map((p) => p.type), ['text/plain', 'message/delivery-status', 'text/rfc822-headers']);
    assert.match(report.parts[0]!.body, /<gone@remote\.example>: 550 5\.1\.1/);
    assert.equal(report.perMessage['reporting-mta'], `dns; ${HOSTNAME}`);
    assert.ok(report.perMessage['arrival-date']);
    assert.equal(report.recipients.length, 1, 'only the failed recipient is reported');
    const [failed] = report.recipients;
    assert.equal(failed!['final-recipient'], 'rfc822; gone@remote.example');
    assert.equal(failed!['action'], 'failed');
    assert.equal(failed!['status'], '5.1.1');
    assert.equal(failed!['remote-mta'], 'dns; mx.remote.example');
    assert.equal(failed!['diagnostic-code'], 'smtp; 550 5.1.1 <gone@remote.example>: Recipient address rejected');
    // The original's header block, and nothing of its body.
    const quoted = report.parts[2]!.body;
    assert.match(quoted, /^Subject: Quarterly numbers\r$/m);
    assert.match(quoted, /^Message-ID: <orig-1@example\.org>\r$/m);
    assert.ok(!quoted.includes('secret body'));
  });

  it('sends the report for a sender without a local account through the queue, with the null sender', async () => {
    harness = await openHarness();
    const { store } = harness;
    const transport = new ScriptedTransport((attempt) =>
      attempt.mailFrom === ''
        ? answerAll('250 2.0.0 Ok')(attempt)
        : answerAll('554 5.7.1 Relay access denied')(attempt),
    );
    await harness.enqueue(['x@remote.example'], { mailFrom: 'forwarder@elsewhere.example', senderUserId: null });
    const worker = harness.start(transport);
    await waitFor(() => transport.calls.length === 2, 'the message and then its report');
    await waitForEmptyQueue(store);
    await worker.stop();
    const [original, report] = transport.calls;
    assert.equal(original!.attempt.mailFrom, 'forwarder@elsewhere.example');
    assert.equal(report!.attempt.mailFrom, '', 'reports go out with the null reverse path');
    assert.deepEqual(report!.attempt.recipients, ['forwarder@elsewhere.example']);
    const text = report!.body.toString();
    assert.match(text, /^Content-Type: multipart\/report; report-type=delivery-status;/m);
    assert.match(text, /^Status: 5\.7\.1\r$/m);
    assert.match(text, /^Final-Recipient: rfc822; x@remote\.example\r$/m);
    assert.deepEqual(await inboxMessageIds(harness), []);
  });

  it('never reports on a message from the null sender, whether rejected or expired', async () => {
    harness = await openHarness({ giveUpMs: 2 * HOUR, delayNoticeMs: HOUR, firstRetryMs: 30 * MINUTE, maxRetryMs: HOUR });
    const { store, alice } = harness;
    const transport = new ScriptedTransport((attempt) =>
      attempt.domain === 'hard.example' ? answerAll('550 5.1.1 no such user')(attempt) : answerAll('451 4.3.0 later')(attempt),
    );
    await harness.enqueue(['a@hard.example'], { mailFrom: '', senderUserId: null });
    // Even with a submitting user on record, <> means: nobody to tell.
    const soft = await harness.enqueue(['b@soft.example'], { mailFrom: '', senderUserId: alice.id });
    const worker = harness.start(transport);
    await playRetries(harness, worker, soft.queueId);
    await waitForEmptyQueue(store);
    await worker.stop();
    assert.deepEqual(await inboxMessageIds(harness), [], 'no report in the INBOX');
    assert.ok(
      transport.recipients().every((r) => r === 'a@hard.example' || r === 'b@soft.example'),
      'none through the queue either',
    );
    assert.deepEqual(transport.recipients().filter((r) => r === 'a@hard.example'), ['a@hard.example']);
    assert.ok(transport.recipients().filter((r) => r === 'b@soft.example').length >= 3, 'retried until it expired');
  });

  it('retries a temporary failure with doubling waits, sends one delay notice, and reports the expiry', async () => {
    harness = await openHarness({ firstRetryMs: 10 * MINUTE, maxRetryMs: HOUR, delayNoticeMs: HOUR, giveUpMs: 5 * HOUR });
    const { store, clock } = harness;
    const start = clock.now();
    const transport = new ScriptedTransport(answerAll('451 4.7.1 Greylisted, try again later', 'mx.slow.example'), () => clock.now());
    const { queueId } = await harness.enqueue(['late@slow.example']);
    const worker = harness.start(transport);
    await playRetries(harness, worker, queueId);
    await waitForEmptyQueue(store);
    await worker.stop();

    const offsets = transport.calls.map((c) => Math.round((c.at - start) / MINUTE));
    assert.deepEqual(offsets, [0, 10, 30, 70, 130, 190, 250, 310], 'waits of 10, 20, 40, then 60 minutes at most');

    const ids = await inboxMessageIds(harness);
    assert.equal(ids.length, 2, 'one delay notice, then one failure report');
    const notice = await parseReport(store, ids[0]!);
    assert.match(notice.headers, /^Subject: Delayed Mail/m);
    assert.equal(notice.recipients[0]!['action'], 'delayed');
    assert.equal(notice.recipients[0]!['status'], '4.7.1');
    assert.equal(notice.recipients[0]!['will-retry-until'], new Date(new Date(notice.perMessage['arrival-date']!).getTime() + 5 * HOUR).toUTCString().replace('GMT', '+0000'));
    assert.equal(notice.recipients[0]!['diagnostic-code'], 'smtp; 451 4.7.1 Greylisted, try again later');

    const expiry = await parseReport(store, ids[1]!);
    assert.match(expiry.headers, /^Subject: Undelivered Mail Returned to Sender/m);
    assert.equal(expiry.recipients[0]!['action'], 'failed');
    assert.equal(expiry.recipients[0]!['final-recipient'], 'rfc822; late@slow.example');
    assert.equal(expiry.recipients[0]!['status'], '4.7.1', 'the last reply\'s enhanced code');
    assert.equal(expiry.recipients[0]!['remote-mta'], 'dns; mx.slow.example');
    assert.match(expiry.parts[0]!.body, /gave up after 5 hours/);

    const logged = harness.logLines.map((l) => JSON.parse(l));
    assert.ok(logged.some((l) => l.event === 'queue.expired' && l.queueId === queueId));
  });

  it('keeps to maxConnections across messages', async () => {
    harness = await openHarness({ maxConnections: 2 });
    const { store } = harness;
    const transport = new ScriptedTransport(async (attempt) => {
      await sleep(30);
      return answerAll('250 ok')(attempt);
    });
    for (let i = 0; i < 6; i++) await harness.enqueue([`r@d${i}.example`, `s@e${i}.example`]);
    const worker = harness.start(transport);
    await waitForEmptyQueue(store);
    await worker.stop();
    assert.equal(transport.calls.length, 12);
    assert.ok(transport.maxActive <= 2, `${transport.maxActive} connections at once`);
  });

  it('stopped in the middle of a delivery, records what finished and leaves the rest to the next worker', async () => {
    harness = await openHarness();
    const { store } = harness;
    let stuck = 0;
    const first = new ScriptedTransport((attempt, signal) => {
      if (attempt.domain === 'fast.example') return answerAll('250 ok')(attempt);
      stuck++;
      // Hangs until the worker gives up on it (a slow peer); ignores nothing the worker says.
      return new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(signal.reason)));
    });
    const { queueId } = await harness.enqueue(['a@fast.example', 'b@slow.example']);
    const workerA = harness.start(first, { owner: 'node-a' });
    await waitFor(() => first.calls.length === 2 && stuck === 1, 'both domains under way');
    await workerA.stop();
    const queued = (await store.getQueued(queueId))!;
    assert.deepEqual(
      queued.recipients.map((r) => [r.address, r.status]),
      [['a@fast.example', 'delivered'], ['b@slow.example', 'pending']],
    );

    const second = new ScriptedTransport(answerAll('250 ok'));
    const workerB = harness.start(second, { owner: 'node-b' });
    await waitForEmptyQueue(store);
    await workerB.stop();
    assert.deepEqual(second.recipients(), ['b@slow.example'], 'only what was left, at once');
  });

  it('takes over the message of a worker that died holding it, once its lease expired', async () => {
    harness = await openHarness();
    const { store, clock } = harness;
    const { queueId } = await harness.enqueue(['x@remote.example']);
    // A node claims it and dies: no renewal, no release.
    const dead = await store.claimDue('dead-node', new Date(clock.now()), 10, 400);
    assert.deepEqual(dead.map((m) => m.id), [queueId]);
    const transport = new ScriptedTransport(answerAll('250 ok'));
    const worker = harness.start(transport, { owner: 'survivor' });
    await sleep(100);
    assert.equal(transport.calls.length, 0, 'not while the lease lives');
    await sleep(400);
    worker.kick();
    await waitForEmptyQueue(store);
    await worker.stop();
    assert.deepEqual(transport.recipients(), ['x@remote.example']);
  });

  it('wakes at once when a message is queued', async () => {
    harness = await openHarness();
    const { store } = harness;
    const transport = new ScriptedTransport(answerAll('250 ok'));
    const worker = harness.start(transport);
    await sleep(50); // idle now, asleep until the next planned look (a minute away)
    await harness.enqueue(['x@remote.example']);
    await waitForEmptyQueue(store);
    await worker.stop();
    assert.equal(transport.calls.length, 1);
  });
});
