/**
 * The mail quota as SMTP checks it, at RCPT (already full, or the declared SIZE would pass it)
 * and again at the end of DATA: what the user's quota holds is their mail plus, when files
 * share the quota with mail, their files.
 */
import { StoreError, type User } from '../store/types.js';
import type { SmtpSession } from './session.js';
import { otherUsageOf } from '../net/other-usage.js';

/** What else a user's quota holds besides mail (their files, when shared); 0 when that cannot be read. */
export function otherUsage(s: Pick<SmtpSession, 'ctx' | 'log'>, user: User): Promise<number> {
  return otherUsageOf(s.ctx, s.log, user);
}

/**
 * Refuses ('quota') a message of `size` bytes that would take a recipient past a quota that
 * also holds their files. The store checks the mail alone when it delivers; this adds the rest.
 * `userIds` are the recipients that had a quota at RCPT, so mail to users without one costs no
 * lookup here.
 */
export async function checkSharedQuota(s: Pick<SmtpSession, 'ctx' | 'log'>, userIds: Iterable<number>, size: number): Promise<void> {
  if (!s.ctx.otherUsage) return;
  for (const id of userIds) {
    const user = await s.ctx.store.getUserById(id);
    if (!user || user.quotaBytes === null) continue;
    const other = await otherUsage(s, user);
    if (other > 0 && user.usedBytes + other + size > user.quotaBytes) throw new StoreError('quota', `${user.address} is over quota`);
  }
}
