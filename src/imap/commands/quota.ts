/**
 * QUOTA (RFC 9208): one quota root "" per user, holding the STORAGE resource in KiB.
 * SETQUOTA is for the administrator (wharf user quota), not for the user.
 */
import { ArgCursor } from '../protocol/args.js';
import { otherUsageOf } from '../../net/other-usage.js';
import { ImapNo } from '../errors.js';
import type { ImapSession } from '../session.js';
import { mailboxFromWire, mailboxToWire, requireMailbox } from './mailbox-name.js';
import { AUTHENTICATED, argsOf, type CommandSpec } from './types.js';

async function quotaLine(s: ImapSession): Promise<string> {
  const user = await s.store.getUserById(s.user!.id);
  if (!user || user.quotaBytes === null) return 'QUOTA "" ()';
  // One quota root: mail, plus the user's files when they share the quota.
  const used = user.usedBytes + (await otherUsageOf(s.ctx, s.log, user));
  return `QUOTA "" (STORAGE ${Math.ceil(used / 1024)} ${Math.floor(user.quotaBytes / 1024)})`;
}

export const getQuotaRoot: CommandSpec = {
  states: AUTHENTICATED,
  async run(s, c) {
    const args = new ArgCursor(argsOf(c), 'GETQUOTAROOT');
    const name = mailboxFromWire(s, args.astring('mailbox'));
    args.end();
    await requireMailbox(s, name);
    s.out.untagged(`QUOTAROOT ${mailboxToWire(s, name)} ""`);
    s.out.untagged(await quotaLine(s));
  },
};

export const getQuota: CommandSpec = {
  states: AUTHENTICATED,
  async run(s, c) {
    const args = new ArgCursor(argsOf(c), 'GETQUOTA');
    const root = args.astring('quota root');
    args.end();
    if (root !== '') throw new ImapNo('No such quota root', 'NONEXISTENT');
    s.out.untagged(await quotaLine(s));
  },
};

export const setQuota: CommandSpec = {
  states: AUTHENTICATED,
  async run() {
    throw new ImapNo('Quotas are set by the administrator', 'NOPERM');
  },
};
