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
import type { Database, Tx } from './db.js';
import { isId, type Mailboxes } from './mailboxes.js';
import type { Messages } from './messages.js';

/** Alias chains longer than this are cut (they are almost certainly a misconfiguration). */
const MAX_ALIAS_DEPTH = 10;

interface UserRow {
  id: number;
  address: string;
  domain: string;
  quota_bytes: number | null;
  used_bytes: number;
  created_at: Date;
}

const USER_COLUMNS = 'id, address, domain, quota_bytes, used_bytes, created_at';

function toUser(r: UserRow): User {
  return {
    id: r.id,
    address: r.address,
    domain: r.domain,
    quotaBytes: r.quota_bytes,
    usedBytes: r.used_bytes,
    createdAt: r.created_at,
  };
}

function checkQuota(quota: number | null | undefined): number | null {
  if (quota === undefined || quota === null) return null;
  if (!Number.isSafeInteger(quota) || quota < 0) throw new StoreError('invalid', `invalid quota: ${quota}`);
  return quota;
}

export class Accounts {
  constructor(
    private readonly db: Database,
    private readonly mailboxes: Mailboxes,
    private readonly messages: Messages,
  ) {}

  // ---- domains ---------------------------------------------------------------------------

  async addDomain(name: string): Promise<Domain> {
    const domain = normalizeDomain(name);
    const row = await this.db.one<{ name: string; created_at: Date }>(
      'INSERT INTO domains (name) VALUES ($1) ON CONFLICT DO NOTHING RETURNING name, created_at',
      [domain],
    );
    if (!row) throw new StoreError('conflict', `domain ${domain} already exists`);
    return { name: row.name, createdAt: row.created_at };
  }

  async removeDomain(name: string): Promise<void> {
    const domain = normalizeDomain(name);
    return this.db.transaction(async (tx) => {
      // Locked, so a user or alias added meanwhile (which must reference it) waits for us.
      if (!(await tx.one('SELECT 1 FROM domains WHERE name = $1 FOR UPDATE', [domain]))) {
        throw new StoreError('not-found', `no domain ${domain}`);
      }
      const inUse = await tx.one(
        'SELECT 1 WHERE EXISTS (SELECT 1 FROM users WHERE domain = $1) OR EXISTS (SELECT 1 FROM aliases WHERE domain = $1)',
        [domain],
      );
      if (inUse) throw new StoreError('conflict', `domain ${domain} still has users or aliases`);
      await tx.rows('DELETE FROM domains WHERE name = $1', [domain]);
    });
  }

  async listDomains(): Promise<Domain[]> {
    const rows = await this.db.rows<{ name: string; created_at: Date }>(
      'SELECT name, created_at FROM domains ORDER BY name COLLATE "C"',
    );
    return rows.map((r) => ({ name: r.name, createdAt: r.created_at }));
  }

  async isLocalDomain(name: string): Promise<boolean> {
    let domain: string;
    try {
      domain = normalizeDomain(name);
    } catch {
      return false;
    }
    return (await this.db.preparedOne('SELECT 1 FROM domains WHERE name = $1', [domain])) !== undefined;
  }

  // ---- users -----------------------------------------------------------------------------

  async addUser(input: { address: string; passwordHash: string; quotaBytes?: number | null }): Promise<User> {
    const { address, domain } = parseAddress(input.address);
    const quota = checkQuota(input.quotaBytes);
    if (typeof input.passwordHash !== 'string') throw new StoreError('invalid', 'passwordHash must be a string');
    return this.db.transaction(async (tx) => {
      if (!(await tx.one('SELECT 1 FROM domains WHERE name = $1', [domain]))) {
        throw new StoreError('not-found', `no domain ${domain}`);
      }
      if (await tx.one('SELECT 1 FROM users WHERE address = $1', [address])) {
        throw new StoreError('conflict', `user ${address} already exists`);
      }
      if (await tx.one('SELECT 1 FROM aliases WHERE source = $1', [address])) {
        throw new StoreError('conflict', `${address} is already an alias`);
      }
      const row = (await tx.one<UserRow>(
        `INSERT INTO users (address, domain, password_hash, quota_bytes) VALUES ($1, $2, $3, $4) RETURNING ${USER_COLUMNS}`,
        [address, domain, input.passwordHash, quota],
      ))!;
      await this.mailboxes.insertManyInTx(tx, row.id, DEFAULT_MAILBOXES);
      await this.mailboxes.subscribeInTx(
        tx,
        row.id,
        DEFAULT_MAILBOXES.map((m) => m.name),
      );
      return toUser(row);
    });
  }

  async getUser(address: string): Promise<User | null> {
    const parsed = tryParseAddress(address);
    if (!parsed) return null;
    const row = await this.db.preparedOne<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE address = $1`, [parsed.address]);
    return row ? toUser(row) : null;
  }

  async getUserById(id: number): Promise<User | null> {
    if (!isId(id)) return null;
    const row = await this.db.one<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [id]);
    return row ? toUser(row) : null;
  }

  async getPasswordHash(address: string): Promise<string | null> {
    const parsed = tryParseAddress(address);
    if (!parsed) return null;
    const row = await this.db.one<{ password_hash: string }>('SELECT password_hash FROM users WHERE address = $1', [
      parsed.address,
    ]);
    return row?.password_hash ?? null;
  }

  async setPasswordHash(address: string, passwordHash: string): Promise<void> {
    const parsed = parseAddress(address);
    if (typeof passwordHash !== 'string') throw new StoreError('invalid', 'passwordHash must be a string');
    const changed = await this.db.count('UPDATE users SET password_hash = $1 WHERE address = $2', [
      passwordHash,
      parsed.address,
    ]);
    if (changed === 0) throw new StoreError('not-found', `no user ${parsed.address}`);
  }

  async setQuota(address: string, quotaBytes: number | null): Promise<void> {
    const parsed = parseAddress(address);
    const quota = checkQuota(quotaBytes);
    const changed = await this.db.count('UPDATE users SET quota_bytes = $1 WHERE address = $2', [quota, parsed.address]);
    if (changed === 0) throw new StoreError('not-found', `no user ${parsed.address}`);
  }

  async listUsers(domain?: string): Promise<User[]> {
    const rows =
      domain === undefined
        ? await this.db.rows<UserRow>(`SELECT ${USER_COLUMNS} FROM users ORDER BY address COLLATE "C"`)
        : await this.db.rows<UserRow>(
            `SELECT ${USER_COLUMNS} FROM users WHERE domain = $1 ORDER BY address COLLATE "C"`,
            [normalizeDomain(domain)],
          );
    return rows.map(toUser);
  }

  async removeUser(address: string): Promise<void> {
    const parsed = parseAddress(address);
    return this.db.transaction(async (tx) => {
      const user = await tx.one<{ id: number }>('SELECT id FROM users WHERE address = $1', [parsed.address]);
      if (!user) throw new StoreError('not-found', `no user ${parsed.address}`);
      // Mailboxes first, as every other writer locks them (then users): no lock-order inversion.
      const mailboxIds = (await tx.rows<{ id: number }>('SELECT id FROM mailboxes WHERE user_id = $1', [user.id])).map(
        (r) => r.id,
      );
      await this.mailboxes.lockInTx(tx, mailboxIds);
      const messageIds = (
        await tx.rows<{ message_id: number }>(
          'SELECT DISTINCT message_id FROM mailbox_entries WHERE mailbox_id = ANY($1)',
          [mailboxIds],
        )
      ).map((r) => r.message_id);
      // Watchers of the user's mailboxes (e.g. an IDLE session) learn that they are gone.
      for (const id of mailboxIds) tx.touch(id);
      await tx.rows('DELETE FROM users WHERE id = $1', [user.id]); // cascades to mailboxes, entries, subscriptions
      await this.messages.deleteUnusedInTx(tx, messageIds);
    });
  }

  // ---- aliases ---------------------------------------------------------------------------

  async addAlias(source: string, targets: string[]): Promise<Alias> {
    const src = parseAliasSource(source);
    if (!Array.isArray(targets) || targets.length === 0) {
      throw new StoreError('invalid', 'an alias needs at least one target');
    }
    const parsedTargets = [...new Set(targets.map((t) => parseAddress(t).address))];
    return this.db.transaction(async (tx) => {
      if (!(await tx.one('SELECT 1 FROM domains WHERE name = $1', [src.domain]))) {
        throw new StoreError('not-found', `no domain ${src.domain}`);
      }
      if (await tx.one('SELECT 1 FROM users WHERE address = $1', [src.source])) {
        throw new StoreError('conflict', `${src.source} is a user; an alias would never be used`);
      }
      for (const target of parsedTargets) {
        // A resolution can only name local users, so a remote target would silently drop mail.
        if (!(await tx.one('SELECT 1 FROM domains WHERE name = $1', [target.slice(target.lastIndexOf('@') + 1)]))) {
          throw new StoreError('invalid', `alias target ${target} is not in a local domain (no forwarding)`);
        }
        if (target === src.source) throw new StoreError('invalid', `alias ${src.source} cannot target itself`);
        const inserted = await tx.count(
          'INSERT INTO aliases (source, target, domain) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
          [src.source, target, src.domain],
        );
        if (inserted === 0) throw new StoreError('conflict', `alias ${src.source} already has target ${target}`);
      }
      return { source: src.source, targets: await this.targetsOf(tx, src.source) };
    });
  }

  async removeAlias(source: string, targets?: string[]): Promise<void> {
    const src = parseAliasSource(source);
    const parsedTargets = targets?.map((t) => parseAddress(t).address);
    return this.db.transaction(async (tx) => {
      if (!(await tx.one('SELECT 1 FROM aliases WHERE source = $1', [src.source]))) {
        throw new StoreError('not-found', `no alias ${src.source}`);
      }
      if (parsedTargets === undefined) {
        await tx.rows('DELETE FROM aliases WHERE source = $1', [src.source]);
        return;
      }
      for (const target of parsedTargets) {
        if ((await tx.count('DELETE FROM aliases WHERE source = $1 AND target = $2', [src.source, target])) === 0) {
          throw new StoreError('not-found', `alias ${src.source} has no target ${target}`);
        }
      }
    });
  }

  async listAliases(domain?: string): Promise<Alias[]> {
    const order = 'ORDER BY source COLLATE "C", target COLLATE "C"';
    const rows =
      domain === undefined
        ? await this.db.rows<{ source: string; target: string }>(`SELECT source, target FROM aliases ${order}`)
        : await this.db.rows<{ source: string; target: string }>(
            `SELECT source, target FROM aliases WHERE domain = $1 ${order}`,
            [normalizeDomain(domain)],
          );
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
    if (!(await this.isLocalDomain(parsed.domain))) return { kind: 'remote' };
    const users = new Map<number, User>();
    const visited = new Set<string>();
    const expand = async (addr: string, depth: number): Promise<void> => {
      if (depth > MAX_ALIAS_DEPTH || visited.has(addr)) return;
      visited.add(addr);
      const match = await this.match(addr);
      if (match === null) return;
      if ('user' in match) users.set(match.user.id, match.user);
      else for (const target of match.targets) await expand(target, depth + 1);
    };
    await expand(parsed.address, 0);
    return users.size > 0 ? { kind: 'local', users: [...users.values()] } : { kind: 'unknown' };
  }

  /** The first rule that matches one address (no recursion). */
  private async match(address: string): Promise<{ user: User } | { targets: string[] } | null> {
    const candidates = [address];
    const base = stripSubaddress(address);
    if (base !== null) candidates.push(base);
    for (const candidate of candidates) {
      const user = await this.db.preparedOne<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE address = $1`, [candidate]);
      if (user) return { user: toUser(user) };
      const targets = await this.targetsOf(this.db, candidate);
      if (targets.length > 0) return { targets };
    }
    const catchAll = await this.targetsOf(this.db, `@${address.slice(address.lastIndexOf('@') + 1)}`);
    return catchAll.length > 0 ? { targets: catchAll } : null;
  }

  private async targetsOf(q: Tx | Database, source: string): Promise<string[]> {
    const rows = await q.rows<{ target: string }>(
      'SELECT target FROM aliases WHERE source = $1 ORDER BY target COLLATE "C"',
      [source],
    );
    return rows.map((r) => r.target);
  }
}
