/**
 * What a user's quota holds besides mail (ServiceContext.otherUsage: their files, when files
 * share the quota with mail), for every mail protocol that checks or reports the quota.
 */
import type { User } from '../store/types.js';
import type { Logger, ServiceContext } from './types.js';

/** Bytes of `user`'s quota taken by something other than mail; 0 when that cannot be read. */
export async function otherUsageOf(ctx: Pick<ServiceContext, 'otherUsage'>, log: Logger, user: User): Promise<number> {
  if (user.quotaBytes === null || !ctx.otherUsage) return 0;
  try {
    return await ctx.otherUsage(user);
  } catch (err) {
    // Mail is not refused because the file store could not be read.
    log.warn('could not read what else the quota holds', { user: user.address, error: err instanceof Error ? err : String(err) });
    return 0;
  }
}
