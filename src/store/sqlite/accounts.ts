/** Domains, users and aliases, and recipient resolution. */
import {
  DEFAULT_MAILBOXES,
  StoreError,
  type Alias,
  type Domain,
  type RecipientResolution,
  type User,
} from '../types.js';
import { normalizeDomain, parseAddress, parseAliasSource, stripSubaddress, tryParseAddress } from '../normalize.js';
import type { Mailboxes } from './mailboxes.js';
import type { Messages } from './messages.js';
import type { Db } from './schema.js';
import type { Subscriptions } from './subscriptions.js';
import type { WriteQueue } from './write-queue.js';

/** Alias chains longer than this are cut (they are almost certainly a misconfiguration). */
const MAX_ALIAS_DEPTH = 10;

interface UserRow {
  id: number;
  address: string;
  domain: string;
  quota_bytes: number | null;
  used_bytes: number;
  created_at: number;
}

const USER_COLUMNS = 'id, address, domain, quota_bytes, used_bytes, created_at';

function toUser(r: UserRow): User {
  return {
    id: r.id,
    address: r.address,
    domain: r.domain,
    quotaBytes: r.quota_bytes,
    usedBytes: r.used_bytes,
    createdAt: new Date(r.created_at),
  };
}

function checkQuota(quota: number | null | undefined): number | null {
  if (quota === undefined || quota === null) return null;
  if (!Number.isSafeInteger(quota) || quota < 0) throw new StoreError('invalid', `invalid quota: ${quota}`);
  return quota;
}

export class Accounts {
  private readonly stmts;

  constructor(
    db: Db,
    private readonly queue: WriteQueue,
    private readonly mailboxes: Mailboxes,
    private readonly messages: Messages,
    private readonly subscriptions: Subscriptions,
  ) {
    this.stmts = {
      domain: db.prepare('SELECT name, created_at FROM domains WHERE name = ?'),
      domains: db.prepare('SELECT name, created_at FROM domains ORDER BY name'),
      insertDomain: db.prepare('INSERT INTO domains (name, created_at) VALUES (?, ?)'),
      deleteDomain: db.prepare('DELETE FROM domains WHERE name = ?'),
      domainInUse: db
        .prepare(
          `SELECT EXISTS (SELECT 1 FROM users WHERE domain = ?) OR EXISTS (SELECT 1 FROM aliases WHERE domain = ?)`,
        )
        .pluck(),
      userByAddress: db.prepare(`SELECT ${USER_COLUMNS} FROM users WHERE address = ?`),
      userById: db.prepare(`SELECT ${USER_COLUMNS} FROM users WHERE id = ?`),
      users: db.prepare(`SELECT ${USER_COLUMNS} FROM users ORDER BY address`),
      usersOfDomain: db.prepare(`SELECT ${USER_COLUMNS} FROM users WHERE domain = ? ORDER BY address`),
      insertUser: db.prepare(
        `INSERT INTO users (address, domain, password_hash, quota_bytes, created_at) VALUES (?, ?, ?, ?, ?)
         RETURNING ${USER_COLUMNS}`,
      ),
      passwordHash: db.prepare('SELECT password_hash FROM users WHERE address = ?').pluck(),
      setPasswordHash: db.prepare('UPDATE users SET password_hash = ? WHERE address = ?'),
      setQuota: db.prepare('UPDATE users SET quota_bytes = ? WHERE address = ?'),
      userMailboxes: db.prepare('SELECT id FROM mailboxes WHERE user_id = ?').pluck(),
      userMessages: db
        .prepare(
          `SELECT DISTINCT e.message_id FROM mailbox_entries e JOIN mailboxes b ON b.id = e.mailbox_id
           WHERE b.user_id = ?`,
        )
        .pluck(),
      deleteUser: db.prepare('DELETE FROM users WHERE id = ?'),
      aliasTargets: db.prepare('SELECT target FROM aliases WHERE source = ? ORDER BY target').pluck(),
      aliasExists: db.prepare('SELECT 1 FROM aliases WHERE source = ? AND target = ?').pluck(),
      insertAlias: db.prepare('INSERT INTO aliases (source, target, domain) VALUES (?, ?, ?)'),
      deleteAlias: db.prepare('DELETE FROM aliases WHERE source = ?'),
      deleteAliasTarget: db.prepare('DELETE FROM aliases WHERE source = ? AND target = ?'),
      aliases: db.prepare('SELECT source, target FROM aliases ORDER BY source, target'),
      aliasesOfDomain: db.prepare('SELECT source, target FROM aliases WHERE domain = ? ORDER BY source, target'),
    };
  }

  // ---- domains ---------------------------------------------------------------------------

  async addDomain(name: string): Promise<Domain> {
    const domain = normalizeDomain(name);
    return this.queue.run(() => {
      if (this.stmts.domain.get(domain)) throw new StoreError('conflict', `domain ${domain} already exists`);
      const createdAt = Date.now();
      this.stmts.insertDomain.run(domain, createdAt);
      return { name: domain, createdAt: new Date(createdAt) };
    });
  }

  async removeDomain(name: string): Promise<void> {
    const domain = normalizeDomain(name);
    return this.queue.run(() => {
      if (!this.stmts.domain.get(domain)) throw new StoreError('not-found', `no domain ${domain}`);
      if (this.stmts.domainInUse.get(domain, domain)) {
        throw new StoreError('conflict', `domain ${domain} still has users or aliases`);
      }
      this.stmts.deleteDomain.run(domain);
    });
  }

  async listDomains(): Promise<Domain[]> {
    return (this.stmts.domains.all() as Array<{ name: string; created_at: number }>).map((r) => ({
      name: r.name,
      createdAt: new Date(r.created_at),
    }));
  }

  async isLocalDomain(name: string): Promise<boolean> {
    return this.isLocalDomainSync(name);
  }

  private isLocalDomainSync(name: string): boolean {
    let domain: string;
    try {
      domain = normalizeDomain(name);
    } catch {
      return false;
    }
    return this.stmts.domain.get(domain) !== undefined;
  }

  // ---- users -----------------------------------------------------------------------------

  async addUser(input: { address: string; passwordHash: string; quotaBytes?: number | null }): Promise<User> {
    const { address, domain } = parseAddress(input.address);
    const quota = checkQuota(input.quotaBytes);
    if (typeof input.passwordHash !== 'string') throw new StoreError('invalid', 'passwordHash must be a string');
    return this.queue.run(() => {
      if (!this.stmts.domain.get(domain)) throw new StoreError('not-found', `no domain ${domain}`);
      if (this.stmts.userByAddress.get(address)) throw new StoreError('conflict', `user ${address} already exists`);
      if (this.stmts.aliasTargets.get(address) !== undefined) {
        throw new StoreError('conflict', `${address} is already an alias`);
      }
      const row = this.stmts.insertUser.get(address, domain, input.passwordHash, quota, Date.now()) as UserRow;
      for (const { name, role } of DEFAULT_MAILBOXES) {
        this.mailboxes.insertInTx(row.id, name, role);
        this.subscriptions.addInTx(row.id, name);
      }
      return toUser(row);
    });
  }

  async getUser(address: string): Promise<User | null> {
    const parsed = tryParseAddress(address);
    const row = parsed && (this.stmts.userByAddress.get(parsed.address) as UserRow | undefined);
    return row ? toUser(row) : null;
  }

  async getUserById(id: number): Promise<User | null> {
    const row = this.stmts.userById.get(id) as UserRow | undefined;
    return row ? toUser(row) : null;
  }

  async getPasswordHash(address: string): Promise<string | null> {
    const parsed = tryParseAddress(address);
    return (parsed && (this.stmts.passwordHash.get(parsed.address) as string | undefined)) ?? null;
  }

  async setPasswordHash(address: string, passwordHash: string): Promise<void> {
    const parsed = parseAddress(address);
    if (typeof passwordHash !== 'string') throw new StoreError('invalid', 'passwordHash must be a string');
    return this.queue.run(() => {
      if (this.stmts.setPasswordHash.run(passwordHash, parsed.address).changes === 0) {
        throw new StoreError('not-found', `no user ${parsed.address}`);
      }
    });
  }

  async setQuota(address: string, quotaBytes: number | null): Promise<void> {
    const parsed = parseAddress(address);
    const quota = checkQuota(quotaBytes);
    return this.queue.run(() => {
      if (this.stmts.setQuota.run(quota, parsed.address).changes === 0) {
        throw new StoreError('not-found', `no user ${parsed.address}`);
      }
    });
  }

  async listUsers(domain?: string): Promise<User[]> {
    const rows =
      domain === undefined ? this.stmts.users.all() : this.stmts.usersOfDomain.all(normalizeDomain(domain));
    return (rows as UserRow[]).map(toUser);
  }

  async removeUser(address: string): Promise<void> {
    const parsed = parseAddress(address);
    return this.queue.run((tx) => {
      const user = this.stmts.userByAddress.get(parsed.address) as UserRow | undefined;
      if (!user) throw new StoreError('not-found', `no user ${parsed.address}`);
      const messageIds = this.stmts.userMessages.all(user.id) as number[];
      // Watchers of the user's mailboxes (e.g. an IDLE session) learn that they are gone.
      for (const id of this.stmts.userMailboxes.all(user.id) as number[]) tx.touch(id);
      this.stmts.deleteUser.run(user.id); // cascades to mailboxes, entries, expunged rows, subscriptions
      for (const id of messageIds) this.messages.deleteIfUnusedInTx(id);
    });
  }

  // ---- aliases ---------------------------------------------------------------------------

  async addAlias(source: string, targets: string[]): Promise<Alias> {
    const src = parseAliasSource(source);
    if (!Array.isArray(targets) || targets.length === 0) {
      throw new StoreError('invalid', 'an alias needs at least one target');
    }
    const parsedTargets = [...new Set(targets.map((t) => parseAddress(t).address))];
    return this.queue.run(() => {
      if (!this.stmts.domain.get(src.domain)) throw new StoreError('not-found', `no domain ${src.domain}`);
      if (this.stmts.userByAddress.get(src.source)) {
        throw new StoreError('conflict', `${src.source} is a user; an alias would never be used`);
      }
      for (const target of parsedTargets) {
        // A resolution can only name local users, so a remote target would silently drop mail.
        if (!this.stmts.domain.get(target.slice(target.lastIndexOf('@') + 1))) {
          throw new StoreError('invalid', `alias target ${target} is not in a local domain (no forwarding)`);
        }
        if (target === src.source) throw new StoreError('invalid', `alias ${src.source} cannot target itself`);
        if (this.stmts.aliasExists.get(src.source, target)) {
          throw new StoreError('conflict', `alias ${src.source} already has target ${target}`);
        }
        this.stmts.insertAlias.run(src.source, target, src.domain);
      }
      return { source: src.source, targets: this.stmts.aliasTargets.all(src.source) as string[] };
    });
  }

  async removeAlias(source: string, targets?: string[]): Promise<void> {
    const src = parseAliasSource(source);
    const parsedTargets = targets?.map((t) => parseAddress(t).address);
    return this.queue.run(() => {
      if (this.stmts.aliasTargets.get(src.source) === undefined) {
        throw new StoreError('not-found', `no alias ${src.source}`);
      }
      if (parsedTargets === undefined) {
        this.stmts.deleteAlias.run(src.source);
        return;
      }
      for (const target of parsedTargets) {
        if (this.stmts.deleteAliasTarget.run(src.source, target).changes === 0) {
          throw new StoreError('not-found', `alias ${src.source} has no target ${target}`);
        }
      }
    });
  }

  async listAliases(domain?: string): Promise<Alias[]> {
    const rows = (
      domain === undefined ? this.stmts.aliases.all() : this.stmts.aliasesOfDomain.all(normalizeDomain(domain))
    ) as Array<{ source: string; target: string }>;
    const bySource = new Map<string, string[]>();
    for (const { source, target } of rows) {
      const list = bySource.get(source);
      if (list) list.push(target);
      else bySource.set(source, [target]);
    }
    return [...bySource].map(([source, targets]) => ({ source, targets }));
  }

  /**
   * user → alias → (without `+tag`) user → alias → the domain's catch-all. Alias targets are
   * resolved the same way, recursively; an address already visited is skipped, which both
   * breaks loops and de-duplicates users reached through several paths.
   */
  async resolveRecipient(address: string): Promise<RecipientResolution> {
    const parsed = parseAddress(address);
    if (!this.isLocalDomainSync(parsed.domain)) return { kind: 'remote' };
    const users = new Map<number, User>();
    const visited = new Set<string>();
    const expand = (addr: string, depth: number): void => {
      if (depth > MAX_ALIAS_DEPTH || visited.has(addr)) return;
      visited.add(addr);
      const match = this.match(addr);
      if (match === null) return;
      if ('user' in match) users.set(match.user.id, match.user);
      else for (const target of match.targets) expand(target, depth + 1);
    };
    expand(parsed.address, 0);
    return users.size > 0 ? { kind: 'local', users: [...users.values()] } : { kind: 'unknown' };
  }

  /** The first rule that matches one address (no recursion). */
  private match(address: string): { user: User } | { targets: string[] } | null {
    const candidates = [address];
    const base = stripSubaddress(address);
    if (base !== null) candidates.push(base);
    for (const candidate of candidates) {
      const user = this.stmts.userByAddress.get(candidate) as UserRow | undefined;
      if (user) return { user: toUser(user) };
      const targets = this.stmts.aliasTargets.all(candidate) as string[];
      if (targets.length > 0) return { targets };
    }
    const catchAll = this.stmts.aliasTargets.all(`@${address.slice(address.lastIndexOf('@') + 1)}`) as string[];
    return catchAll.length > 0 ? { targets: catchAll } : null;
  }
}
