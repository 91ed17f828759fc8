/**
 * SMTP relay benchmark: mail from a client through the sender's server and its outbound queue
 * to the recipient's server, for a pair of Wharf servers against a pair of Postfix servers on
 * this machine, driven by the same load generator (bench/lib/smtp-load). The sender's server
 * listens on 127.0.0.1 (domain crepes.test), the recipient's on 127.0.0.2 (hamburger.test),
 * both on the same SMTP port number, as MX hosts on the Internet all use port 25.
 *
 * Prints, for each pair, messages/s that reached the recipient's mailbox and the queue delay
 * (the submission's 250 to the message being in the recipient's mailbox, p50/p99), and the
 * ratio wharf/postfix.
 *
 *   node dist/bench/smtp-relay/run.js [--duration 20] [--warmup 3] [--sessions 20] [--size 10240]
 *        [--rate N] [--poll-ms 20] [--drain-timeout 120] [--tls on|off] [--same-work]
 *        [--only wharf|postfix] [--postfix-param name=value ...] [--keep]
 *
 * Options also come from the environment: BENCH_DURATION, BENCH_WARMUP, BENCH_SESSIONS,
 * BENCH_MSG_SIZE, BENCH_RATE; BENCH_WORKDIR moves the work directory (default bench/.work).
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { watchImapInbox, watchMaildir, type ArrivalWatcher } from '../lib/arrival-watch.js';
import { ensurePackages, freePortOn, intOption, log, makeWorkDir, removeDir, requireRoot, run, runMain, runSide, settle, sleep } from '../lib/common.js';
import { startBenchDnsServer } from '../lib/dns-server.js';
import { runLoad, type LoadOptions, type LoadSummary } from '../lib/load-runner.js';
import { startPostfix } from '../lib/postfix.js';
import { startWharf, wharfCli, wharfDataDir } from '../lib/wharf.js';
import { wharfDkimRecord } from './dkim.js';
import { printReport, readAcks, relayFigures, type SideResult } from './report.js';

const SENDER_HOST = '127.0.0.1';
const RECIPIENT_HOST = '127.0.0.2';
const SENDER_DOMAIN = 'crepes.test';
const RECIPIENT_DOMAIN = 'hamburger.test';
const SENDER_MX = `mail.${SENDER_DOMAIN}`;
const RECIPIENT_MX = `mx.${RECIPIENT_DOMAIN}`;
const ALICE = { address: `alice@${SENDER_DOMAIN}`, password: 'bench-pass-alice' };
const BOB = { address: `bob@${RECIPIENT_DOMAIN}`, password: 'bench-pass-bob' };
/** No message arriving for this long while some are missing: the relay has stopped. */
const STALL_S = 30;

interface Settings {
  durationS: number;
  warmupS: number;
  sessions: number;
  size: number;
  rate: number;
  pollMs: number;
  drainTimeoutS: number;
  tls: boolean;
  sameWork: boolean;
  postfixParams: string[];
}

runMain(async () => {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      sessions: { type: 'string' },
      size: { type: 'string' },
      rate: { type: 'string' },
      'poll-ms': { type: 'string' },
      'drain-timeout': { type: 'string' },
      tls: { type: 'string', default: 'on' },
      'same-work': { type: 'boolean', default: false },
      only: { type: 'string' },
      'postfix-param': { type: 'string', multiple: true },
      keep: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.tls !== 'on' && values.tls !== 'off') throw new Error('--tls takes on or off');
  const settings: Settings = {
    durationS: intOption(values.duration, 'BENCH_DURATION', 20, 1, 3600),
    warmupS: intOption(values.warmup, 'BENCH_WARMUP', 3, 0, 600),
    sessions: intOption(values.sessions, 'BENCH_SESSIONS', 20, 1, 500),
    size: intOption(values.size, 'BENCH_MSG_SIZE', 10_240, 200, 10_000_000),
    rate: intOption(values.rate, 'BENCH_RATE', 0, 0, 100_000),
    pollMs: intOption(values['poll-ms'], 'BENCH_POLL_MS', 20, 1, 10_000),
    drainTimeoutS: intOption(values['drain-timeout'], 'BENCH_DRAIN_TIMEOUT', 120, 5, 3600),
    tls: values.tls === 'on',
    sameWork: values['same-work'],
    postfixParams: values['postfix-param'] ?? [],
  };
  for (const p of settings.postfixParams) if (!/^[a-z_]+ *= *[^\n]*$/.test(p)) throw new Error(`--postfix-param takes name=value, not ${p}`);
  const only = values.only;
  if (only !== undefined && only !== 'wharf' && only !== 'postfix') throw new Error('--only takes wharf or postfix');

  if (only !== 'wharf') {
    requireRoot('the Postfix side of this benchmark');
    await ensurePackages('postfix');
  }
  // The second "host": Linux routes all of 127/8 to lo; elsewhere it needs an alias on lo.
  await freePortOn([SENDER_HOST, RECIPIENT_HOST]).catch((err: unknown) => {
    throw new Error(`${RECIPIENT_HOST} is not usable here (${String(err)}); on systems that do not route 127/8 to lo, add it as an alias of the loopback interface`);
  });

  const work = await makeWorkDir('smtp-relay');
  log(`work directory ${work}`);
  const results: SideResult[] = [];
  const failures: string[] = [];
  const side = (name: string, body: () => Promise<void>) => runSide(failures, name, body);
  if (only !== 'postfix') await side('wharf', async () => void results.push(await runWharfPair(join(work, 'wharf'), settings)));
  if (only !== 'wharf') await side('postfix', async () => void results.push(await runPostfixPair(join(work, 'postfix'), settings)));

  printReport(results, settings);
  for (const f of failures) process.stdout.write(`FAILED ${f}\n`);
  const failed = failures.length > 0 || results.some((r) => r.load.acked === 0 || r.load.aborted || r.figures.missing > 0);
  if (values.keep || failed) log(`kept work directory ${work}`);
  else await removeDir(work);
  if (failed) process.exitCode = 1;
});

function loadOptions(label: string, port: number, s: Settings, acksFile: string, runId: string): LoadOptions {
  return {
    label,
    port,
    sessions: s.sessions,
    durationS: s.durationS,
    warmupS: s.warmupS,
    size: s.size,
    rate: s.rate,
    rcpts: [BOB.address],
    from: ALICE.address,
    acksFile,
    runId,
  };
}

/**
 * Waits until every acknowledged message has arrived; throws "NAME did not deliver N messages
 * within T s" when the time is up, or sooner when nothing has arrived for STALL_S seconds.
 */
async function waitForDelivery(name: string, load: LoadSummary, acks: Map<number, number>, watcher: ArrivalWatcher, timeoutS: number): Promise<void> {
  if (acks.size === 0) {
    const why = Object.keys(load.errorSamples)[0] ?? 'no reply recorded';
    throw new Error(`${name} accepted no message for relay (first error: ${why})`);
  }
  const deadline = Date.now() + timeoutS * 1000;
  let lastCount = -1;
  let lastProgress = Date.now();
  for (;;) {
    let missing = 0;
    for (const seq of acks.keys()) if (!watcher.arrivals.has(seq)) missing++;
    if (missing === 0) return;
    if (watcher.arrivals.size !== lastCount) {
      lastCount = watcher.arrivals.size;
      lastProgress = Date.now();
    }
    const stalled = Date.now() - lastProgress > STALL_S * 1000;
    if (Date.now() > deadline || stalled) {
      const polling = watcher.lastError() ? `; last mailbox poll error: ${watcher.lastError()}` : '';
      throw new Error(
        `${name} did not deliver ${missing} of ${acks.size} acknowledged messages within ${timeoutS} s` +
          `${stalled ? ` (none arrived in the last ${STALL_S} s)` : ''}${polling}`,
      );
    }
    await sleep(250);
  }
}

/** Load, wait for delivery, figures: the part both pairs share. */
async function measure(name: string, dir: string, port: number, s: Settings, watcher: ArrivalWatcher, runId: string, auth?: LoadOptions['auth']): Promise<SideResult> {
  const acksFile = join(dir, 'acks.txt');
  let load: LoadSummary;
  try {
    load = await runLoad({ ...loadOptions(name, port, s, acksFile, runId), auth });
    const acks = await readAcks(acksFile);
    await waitForDelivery(name, load, acks, watcher, s.drainTimeoutS);
    const figures = relayFigures(load, acks, watcher.arrivals);
    const notes = watcher.foreign() > 0 ? [`${watcher.foreign()} messages in the mailbox that this run did not send`] : [];
    return { name, load, figures, notes };
  } finally {
    await watcher.stop();
  }
}

async function runWharfPair(dir: string, s: Settings): Promise<SideResult> {
  await mkdir(dir);
  // The sender's data first: its DKIM key (made with the domain) goes into the DNS server,
  // which must be running before either Wharf starts.
  const senderDir = join(dir, 'sender');
  const senderData = wharfDataDir(senderDir);
  await mkdir(senderData, { recursive: true });
  await wharfCli(senderData, ['domain', 'add', SENDER_DOMAIN]);
  await wharfCli(senderData, ['user', 'add', ALICE.address, '--password-stdin'], { input: ALICE.password + '\n' });
  const dkim = await wharfDkimRecord(senderData, SENDER_DOMAIN);
  const dns = await startBenchDnsServer({
    mx: [
      { domain: RECIPIENT_DOMAIN, host: RECIPIENT_MX, preference: 10 },
      { domain: SENDER_DOMAIN, host: SENDER_MX, preference: 10 },
    ],
    a: [
      { name: RECIPIENT_MX, address: RECIPIENT_HOST },
      { name: SENDER_MX, address: SENDER_HOST },
    ],
    txt: [
      // Connections between the two come from some 127/8 address, whichever the kernel picks.
      { name: SENDER_DOMAIN, value: 'v=spf1 ip4:127.0.0.0/8 -all' },
      { name: `_dmarc.${SENDER_DOMAIN}`, value: 'v=DMARC1; p=none' },
      ...(dkim ? [dkim] : []),
    ],
  });
  const port = await freePortOn([SENDER_HOST, RECIPIENT_HOST]);
  const env = { WHARF_DNS_SERVERS: dns.servers.join(','), WHARF_DELIVERY_PORT: String(port) };
  const config: Record<string, unknown> = {};
  if (!s.tls) config.delivery = { tlsPolicy: { [RECIPIENT_DOMAIN]: 'none' } };
  if (s.sameWork) {
    config.submission = { saveSent: false };
    config.mailAuth = { verifyInbound: false, signOutbound: false };
  }
  const recipient = await startWharf({
    dir: join(dir, 'recipient'),
    domain: RECIPIENT_DOMAIN,
    users: [BOB],
    host: RECIPIENT_HOST,
    hostname: RECIPIENT_MX,
    smtpPort: port,
    imap: true,
    env,
    config,
  });
  const sender = await startWharf({
    dir: senderDir,
    seed: false,
    domain: SENDER_DOMAIN,
    users: [ALICE],
    host: SENDER_HOST,
    hostname: SENDER_MX,
    smtpPort: port,
    submission: true,
    env,
    config,
  });
  log(`Wharf pair: submission ${SENDER_HOST}:${sender.submissionPort} -> ${SENDER_MX} -> MX ${RECIPIENT_MX} ${RECIPIENT_HOST}:${port}`);
  await settle();
  const runId = randomBytes(4).toString('hex');
  const watcher = watchImapInbox({ host: RECIPIENT_HOST, port: recipient.imapPort, user: BOB.address, password: BOB.password, runId, pollMs: s.pollMs });
  const result = await measure('wharf', dir, sender.submissionPort, s, watcher, runId, { user: ALICE.address, password: ALICE.password });
  if (!s.sameWork) {
    result.notes.push(
      dkim
        ? `DKIM: ${SENDER_DOMAIN}'s key published as ${dkim.name} (${dkim.value.length} characters); mail signed by the sender, verified by the recipient`
        : `DKIM: no key for ${SENDER_DOMAIN} from \`wharf domain dns\`, so nothing is signed`,
    );
  }
  await sender.stop();
  await recipient.stop();
  await dns.stop();
  return result;
}

/** A self-signed EC P-256 certificate (the kind Wharf makes for itself) for the receiving Postfix. */
async function makeCertificate(dir: string, cn: string): Promise<{ cert: string; key: string }> {
  await mkdir(dir, { recursive: true });
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '7', '-subj', `/CN=${cn}`]);
  return { cert, key };
}

async function runPostfixPair(dir: string, s: Settings): Promise<SideResult> {
  await mkdir(dir);
  const port = await freePortOn([SENDER_HOST, RECIPIENT_HOST]);
  const receiverTls: string[] = [];
  const senderTls: string[] = [];
  if (s.tls) {
    const { cert, key } = await makeCertificate(join(dir, 'tls'), RECIPIENT_MX);
    receiverTls.push('smtpd_tls_security_level = may', `smtpd_tls_cert_file = ${cert}`, `smtpd_tls_key_file = ${key}`);
    senderTls.push('smtp_tls_security_level = may');
  }
  const recipient = await startPostfix({
    dir: join(dir, 'recipient'),
    port,
    listenAddress: RECIPIENT_HOST,
    hostname: RECIPIENT_MX,
    domain: RECIPIENT_DOMAIN,
    users: [BOB.address],
    extraParams: [...receiverTls, ...s.postfixParams],
  });
  const sender = await startPostfix({
    dir: join(dir, 'sender'),
    port,
    listenAddress: SENDER_HOST,
    hostname: SENDER_MX,
    domain: SENDER_DOMAIN,
    users: [ALICE.address],
    transport: { [RECIPIENT_DOMAIN]: `smtp:[${RECIPIENT_HOST}]:${port}` },
    extraParams: [...senderTls, ...s.postfixParams],
  });
  log(`Postfix pair: smtpd ${SENDER_HOST}:${port} -> transport_maps ${RECIPIENT_DOMAIN} smtp:[${RECIPIENT_HOST}]:${port}`);
  await settle();
  const runId = randomBytes(4).toString('hex');
  const watcher = watchMaildir(recipient.maildirOf(BOB.address), runId, s.pollMs);
  const result = await measure('postfix', dir, port, s, watcher, runId);
  const queued = await sender.countQueued();
  if (queued > 0) result.notes.push(`WARNING ${queued} files still in the sender's queue`);
  await sender.stop();
  await recipient.stop();
  return result;
}
