import { OpenCounts } from './open-counts.js';

/**
 * Sessions per (user, client address), for a cap such as IMAP's
 * `imap.maxConnectionsPerUserAddress` (Dovecot's mail_max_userip_connections): one user's
 * mail client on one machine opens a few connections, not dozens; a stolen password used from
 * one address cannot hold every slot. Counted in this process only: with several nodes behind
 * a load balancer each node allows the limit (a shared count would have to be released by a
 * crashed node too, which a counter in the store cannot tell).
 */
export class UserAddressCount {
  private readonly open = new OpenCounts();

  constructor(private readonly limit: number) {}

  /** Open sessions of `userId` from `address`. */
  count(userId: number, address: string): number {
    return this.open.get(key(userId, address));
  }

  /**
   * Counts one more session, or returns null when the user already has `limit` sessions from
   * this address. The function returned uncounts it (calling it again does nothing).
   */
  acquire(userId: number, address: string): (() => void) | null {
    const k = key(userId, address);
    return this.open.get(k) >= this.limit ? null : this.open.add(k);
  }
}

function key(userId: number, address: string): string {
  return `${userId} ${address}`;
}
