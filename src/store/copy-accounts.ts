/**
 * The account part of a store copy: domains (with their DKIM keys), users (password hash,
 * quota and SSH keys) and aliases of the source made present in the target, as they are now
 * in the source.
 */
import type { CopyCounts } from './copy.js';
import type { DkimKey, Store } from './types.js';

/**
 * Adds what the target lacks and updates what differs. Users and domains are never removed
 * from the target; aliases of the source's domains are made exactly the source's (an alias
 * removed from the source since an earlier run goes from the target too).
 */
export async function copyAccounts(
  source: Store,
  target: Store,
  counts: CopyCounts,
  checkAbort: () => void,
): Promise<void> {
  const domains = new Set((await target.listDomains()).map((d) => d.name));
  const sourceDomains = await source.listDomains();
  for (const domain of sourceDomains) {
    if (domains.has(domain.name)) continue;
    await target.addDomain(domain.name);
    counts.domainsAdded++;
  }
  // A key the source has replaces the target's; a target key the source lacks stays.
  for (const domain of sourceDomains) {
    const key = await source.getDkimKey(domain.name);
    if (!key || sameDkimKey(key, await target.getDkimKey(domain.name))) continue;
    await target.setDkimKey(domain.name, key);
    counts.dkimKeysCopied++;
  }

  for (const user of await source.listUsers()) {
    checkAbort();
    const passwordHash = await source.getPasswordHash(user.address);
    if (passwordHash === null) continue; // removed meanwhile
    const existing = await target.getUser(user.address);
    if (!existing) {
      await target.addUser({ address: user.address, passwordHash, quotaBytes: user.quotaBytes });
      counts.usersAdded++;
      await copySshKeys(source, target, user.address, counts);
      continue;
    }
    await copySshKeys(source, target, user.address, counts);
    let updated = false;
    if ((await target.getPasswordHash(user.address)) !== passwordHash) {
      await target.setPasswordHash(user.address, passwordHash);
      updated = true;
    }
    if (existing.quotaBytes !== user.quotaBytes) {
      await target.setQuota(user.address, user.quotaBytes);
      updated = true;
    }
    if (updated) counts.usersUpdated++;
  }

  // After the users: an alias may not have a user's address, and its targets must exist.
  const have = new Map((await target.listAliases()).map((a) => [a.source, new Set(a.targets)]));
  const wanted = new Map((await source.listAliases()).map((a) => [a.source, new Set(a.targets)]));
  for (const [alias, targets] of wanted) {
    const present = have.get(alias) ?? new Set<string>();
    const missing = [...targets].filter((t) => !present.has(t));
    const extra = [...present].filter((t) => !targets.has(t));
    if (missing.length > 0) {
      await target.addAlias(alias, missing);
      counts.aliasTargetsAdded += missing.length;
    }
    if (extra.length > 0) {
      await target.removeAlias(alias, extra);
      counts.aliasTargetsRemoved += extra.length;
    }
  }
  const served = new Set(sourceDomains.map((d) => d.name));
  for (const [alias, targets] of have) {
    if (wanted.has(alias) || !served.has(alias.slice(alias.lastIndexOf('@') + 1))) continue;
    await target.removeAlias(alias);
    counts.aliasTargetsRemoved += targets.size;
  }
}

/**
 * Makes the target user's SSH keys exactly the source user's: a key revoked in the source
 * since an earlier run must not keep opening the account on the target.
 */
async function copySshKeys(source: Store, target: Store, address: string, counts: CopyCounts): Promise<void> {
  const wanted = await source.listSshKeys(address);
  const present = new Set((await target.listSshKeys(address)).map((k) => k.fingerprint));
  for (const key of wanted) {
    if (present.delete(key.fingerprint)) continue;
    await target.addSshKey(address, { algorithm: key.algorithm, publicKey: key.publicKey, comment: key.comment });
    counts.sshKeysCopied++;
  }
  for (const fingerprint of present) {
    if (await target.removeSshKey(address, fingerprint)) counts.sshKeysRemoved++;
  }
}

export function sameDkimKey(a: DkimKey, b: DkimKey | null): boolean {
  return (
    b !== null &&
    a.selector === b.selector &&
    a.algorithm === b.algorithm &&
    a.privateKeyPem === b.privateKeyPem &&
    a.createdAt.getTime() === b.createdAt.getTime()
  );
}
