/**
 * Verifying a store copy (`wharf store copy`): both stores are read through the Store
 * contract alone and compared, per mailbox, by the number of entries and one SHA-256 over
 * the (UID, internal date, flags, size, body bytes) sequence in UID order, plus the account
 * data (domains and their DKIM keys, users with password hashes and quotas, aliases, subscriptions, mailbox
 * UIDVALIDITY and roles), and the outbound queue (recipients' states and body bytes).
 */
import { createHash } from 'node:crypto';
import { StoreError, type MailboxEntry, type Store, type User } from './types.js';
import { sameDkimKey } from './copy-accounts.js';
import { verifyQueue } from './copy-queue.js';

/** What the copy saw of a source mailbox: entries below `uidNext` were copied by that run. */
export interface MailboxSnapshot {
  uidNext: number;
  highestModseq: number;
}

/** Snapshots by user address, then mailbox name. */
export type CopySnapshots = Map<string, Map<string, MailboxSnapshot>>;

export interface VerificationReport {
  ok: boolean;
  mailboxesChecked: number;
  messagesChecked: number;
  /** Messages of the outbound queue compared. */
  queuedChecked: number;
  /** One line per difference found (empty when ok). */
  differences: string[];
  /** Messages that reached the source after their mailbox was copied: the next run copies them. */
  notYetCopied: number;
}

/** Entries of a mailbox in UID order within [fromUid, toUid], read a page at a time. */
export async function* entryPages(
  store: Store,
  mailboxId: number,
  fromUid = 1,
  toUid = Number.MAX_SAFE_INTEGER,
  pageSize = 500,
): AsyncGenerator<MailboxEntry> {
  let next = fromUid;
  while (next <= toUid) {
    const page = await store.listEntries(mailboxId, { fromUid: next, toUid, limit: pageSize });
    for (const entry of page) yield entry;
    if (page.length < pageSize) return;
    next = page[page.length - 1]!.uid + 1;
  }
}

/** Flags in one spelling-independent order, so two stores' lists compare equal. */
export function flagKey(flags: readonly string[]): string {
  return flags
    .map((f) => f.toLowerCase())
    .sort()
    .join(' ');
}

interface MailboxDigest {
  count: number;
  bytes: number;
  sha256: string;
}

/** Count, bytes and SHA-256 of the entries below `uidNext`; bodies are streamed, never held whole. */
async function digestMailbox(store: Store, mailboxId: number, uidNext: number): Promise<MailboxDigest> {
  const hash = createHash('sha256');
  let count = 0;
  let bytes = 0;
  for await (const entry of entryPages(store, mailboxId, 1, uidNext - 1)) {
    hash.update(`${entry.uid}\t${entry.internalDate.getTime()}\t${flagKey(entry.flags)}\t${entry.size}\n`);
    for await (const chunk of store.readBody(entry.messageId)) hash.update(chunk);
    count++;
    bytes += entry.size;
  }
  return { count, bytes, sha256: hash.digest('hex') };
}

/** Entries at or above `uidNext` (what a copy has not reached, or what is not from the source). */
async function countFrom(store: Store, mailboxId: number, uidNext: number): Promise<number> {
  let count = 0;
  for await (const _ of entryPages(store, mailboxId, uidNext)) count++;
  return count;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const sortedB = [...b].sort();
  return [...a].sort().every((x, i) => x === sortedB[i]);
}

/**
 * Compares `target` with `source`. With `snapshots` (from the copy), each mailbox is compared
 * below the UIDNEXT the copy saw, so mail that arrived later is counted as not yet copied
 * rather than as a difference; without, below the source's current UIDNEXT.
 */
export async function verifyCopy(
  source: Store,
  target: Store,
  snapshots: CopySnapshots = new Map(),
  onMailbox: (user: string, mailbox: string) => void | Promise<void> = () => undefined,
): Promise<VerificationReport> {
  const report: VerificationReport = {
    ok: true,
    mailboxesChecked: 0,
    messagesChecked: 0,
    queuedChecked: 0,
    differences: [],
    notYetCopied: 0,
  };
  const differ = (text: string) => report.differences.push(text);

  const targetDomains = new Set((await target.listDomains()).map((d) => d.name));
  const sourceDomains = new Set((await source.listDomains()).map((d) => d.name));
  for (const domain of sourceDomains) {
    if (!targetDomains.has(domain)) {
      differ(`domain ${domain} is missing`);
      continue;
    }
    const key = await source.getDkimKey(domain);
    // Which key differs is said by selector only: key material is never shown.
    if (key && !sameDkimKey(key, await target.getDkimKey(domain))) differ(`domain ${domain} lacks its DKIM key (selector ${key.selector})`);
  }
  const targetAliases = new Map((await target.listAliases()).map((a) => [a.source, a.targets]));
  for (const alias of await source.listAliases()) {
    const targets = targetAliases.get(alias.source);
    targetAliases.delete(alias.source);
    if (!targets) differ(`alias ${alias.source} is missing`);
    else if (!sameList(targets, alias.targets)) differ(`alias ${alias.source} has targets ${targets.join(', ')} instead of ${alias.targets.join(', ')}`);
  }
  for (const alias of targetAliases.keys()) {
    // Domains only the target serves are its own business.
    if (sourceDomains.has(alias.slice(alias.lastIndexOf('@') + 1))) differ(`alias ${alias} exists only in the target`);
  }

  for (const user of await source.listUsers()) {
    const targetUser = await target.getUser(user.address);
    if (!targetUser) {
      differ(`user ${user.address} is missing`);
      continue;
    }
    const before = report.differences.length;
    const pendingBefore = report.notYetCopied;
    await verifyUser(source, target, user, targetUser, snapshots.get(user.address), report, onMailbox);
    // The quota counter must follow from the entries; checked when the rest of the user matched.
    if (report.differences.length === before && report.notYetCopied === pendingBefore) {
      const current = (await target.getUserById(targetUser.id))!;
      const sourceNow = await source.getUserById(user.id);
      if (sourceNow && current.usedBytes !== sourceNow.usedBytes) {
        differ(`user ${user.address} uses ${current.usedBytes} bytes instead of ${sourceNow.usedBytes}`);
      }
    }
  }
  const queue = await verifyQueue(source, target);
  report.queuedChecked = queue.checked;
  report.differences.push(...queue.differences);
  report.ok = report.differences.length === 0;
  return report;
}

async function verifyUser(
  source: Store,
  target: Store,
  user: User,
  targetUser: User,
  snapshots: Map<string, MailboxSnapshot> | undefined,
  report: VerificationReport,
  onMailbox: (user: string, mailbox: string) => void | Promise<void>,
): Promise<void> {
  const differ = (text: string) => report.differences.push(`${user.address}: ${text}`);
  if ((await source.getPasswordHash(user.address)) !== (await target.getPasswordHash(user.address))) {
    differ('the password hash differs');
  }
  if (targetUser.quotaBytes !== user.quotaBytes) differ(`quota ${targetUser.quotaBytes} instead of ${user.quotaBytes}`);
  const subscriptions = await source.listSubscriptions(user.id);
  const targetSubscriptions = await target.listSubscriptions(targetUser.id);
  if (!sameList(subscriptions, targetSubscriptions)) {
    differ(`subscriptions ${JSON.stringify(targetSubscriptions)} instead of ${JSON.stringify(subscriptions)}`);
  }

  const targetMailboxes = new Map((await target.listMailboxes(targetUser.id)).map((m) => [m.name, m]));
  for (const mailbox of await source.listMailboxes(user.id)) {
    await onMailbox(user.address, mailbox.name);
    const copy = targetMailboxes.get(mailbox.name);
    targetMailboxes.delete(mailbox.name);
    if (!copy) {
      differ(`mailbox ${mailbox.name} is missing`);
      continue;
    }
    report.mailboxesChecked++;
    const seen = snapshots?.get(mailbox.name) ?? { uidNext: mailbox.uidNext, highestModseq: mailbox.highestModseq };
    const where = `mailbox ${mailbox.name}`;
    if (copy.uidValidity !== mailbox.uidValidity) differ(`${where} has UIDVALIDITY ${copy.uidValidity} instead of ${mailbox.uidValidity}`);
    if (copy.role !== mailbox.role) differ(`${where} has role ${copy.role} instead of ${mailbox.role}`);
    if (copy.uidNext < seen.uidNext) differ(`${where} has UIDNEXT ${copy.uidNext}, below ${seen.uidNext}`);
    if (copy.highestModseq < seen.highestModseq) differ(`${where} has HIGHESTMODSEQ ${copy.highestModseq}, below ${seen.highestModseq}`);

    let digests: [MailboxDigest, MailboxDigest];
    try {
      digests = await Promise.all([digestMailbox(source, mailbox.id, seen.uidNext), digestMailbox(target, copy.id, seen.uidNext)]);
    } catch (err) {
      if (!(err instanceof StoreError && err.code === 'not-found')) throw err;
      differ(`${where} changed while it was being verified: run again`);
      continue;
    }
    const [want, got] = digests;
    report.messagesChecked += want.count;
    if (want.count !== got.count || want.sha256 !== got.sha256) {
      const now = await source.getMailboxById(mailbox.id);
      const live = now !== null && now.highestModseq > seen.highestModseq ? ' (the source changed during the copy: run again)' : '';
      differ(
        want.count !== got.count
          ? `${where} has ${got.count} messages instead of ${want.count}${live}`
          : `${where} differs in flags, dates or message bytes (checksum ${got.sha256.slice(0, 12)} instead of ${want.sha256.slice(0, 12)})${live}`,
      );
    }
    const extra = await countFrom(target, copy.id, seen.uidNext);
    if (extra > 0) differ(`${where} holds ${extra} messages at or above UID ${seen.uidNext} that are not from the source`);
    report.notYetCopied += await countFrom(source, mailbox.id, seen.uidNext);
  }
  for (const extra of targetMailboxes.values()) {
    differ(`mailbox ${extra.name} exists only in the target (${extra.messageCount} messages)`);
  }
}
