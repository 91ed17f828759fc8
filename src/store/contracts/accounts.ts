/**
 * Domains, users, aliases, and the keys kept with them (SSH login keys, DKIM signing keys). One
 * facet of the storage contract (../types.ts says what every implementation keeps to).
 */

export interface Domain {
  name: string;
  createdAt: Date;
}

export interface User {
  id: number;
  /** Lower-cased full address, local@domain. It is also the login name. */
  address: string;
  domain: string;
  /** Maximum bytes of stored mail; null means unlimited. */
  quotaBytes: number | null;
  /** Bytes currently stored across all the user's mailboxes. */
  usedBytes: number;
  createdAt: Date;
}

export interface Alias {
  /** `local@domain`, or `@domain` for the domain's catch-all. Lower-cased. */
  source: string;
  /** Addresses of local users (or other aliases; expansion is recursive, loop-safe). */
  targets: string[];
}

export type RecipientResolution =
  /** A local address: the users (after alias expansion, de-duplicated) who get a copy. */
  | { kind: 'local'; users: User[] }
  /** The domain is ours but no user or alias (nor catch-all) matches: 550 5.1.1. */
  | { kind: 'unknown' }
  /** Not one of our domains: relaying rules apply. */
  | { kind: 'remote' };

/** Domains, users (with password hashes and quotas), aliases and recipient resolution. */
export interface AccountStore {
  // ---- domains -------------------------------------------------------------------------
  addDomain(name: string): Promise<Domain>;
  /** Removes a domain; fails with StoreError('conflict') while it still has users or aliases. */
  removeDomain(name: string): Promise<void>;
  listDomains(): Promise<Domain[]>;
  isLocalDomain(name: string): Promise<boolean>;

  // ---- users ---------------------------------------------------------------------------
  /**
   * Creates the user and its default mailboxes in one transaction, subscribed to each of
   * them. The domain must exist.
   */
  addUser(input: { address: string; passwordHash: string; quotaBytes?: number | null }): Promise<User>;
  getUser(address: string): Promise<User | null>;
  getUserById(id: number): Promise<User | null>;
  /** The stored password hash for login checks; null if no such user. */
  getPasswordHash(address: string): Promise<string | null>;
  setPasswordHash(address: string, passwordHash: string): Promise<void>;
  setQuota(address: string, quotaBytes: number | null): Promise<void>;
  listUsers(domain?: string): Promise<User[]>;
  /** Removes the user with all its mailboxes, entries and subscriptions (bodies shared with others stay). */
  removeUser(address: string): Promise<void>;

  // ---- aliases -------------------------------------------------------------------------
  /** Adds targets to an alias (creating it). The source's domain must be local. */
  addAlias(source: string, targets: string[]): Promise<Alias>;
  /** Removes the whole alias, or only the given targets. */
  removeAlias(source: string, targets?: string[]): Promise<void>;
  listAliases(domain?: string): Promise<Alias[]>;
  /** Resolves an envelope recipient: user, then alias, then the domain's catch-all. */
  resolveRecipient(address: string): Promise<RecipientResolution>;

  // ---- DKIM keys (shared by every node, so any node signs a domain's mail) --------------
  /** Sets (replaces) the domain's DKIM signing key; 'not-found' without such a domain. */
  setDkimKey(domain: string, key: DkimKey): Promise<void>;
  /** The domain's DKIM signing key, or null when it has none (or no such domain). */
  getDkimKey(domain: string): Promise<DkimKey | null>;
}

/** Users' SSH public keys for SFTP login; in the store, so every node accepts them. */
export interface SshKeyStore {
  /**
   * Adds a public key for the user; 'not-found' without such a user, 'conflict' when the user
   * already has a key with the same fingerprint.
   */
  addSshKey(address: string, key: { algorithm: string; publicKey: Buffer; comment: string }): Promise<SshKey>;
  /** The user's keys, oldest first; empty for an unknown user. */
  listSshKeys(address: string): Promise<SshKey[]>;
  /** Removes the user's key with that fingerprint; false when there was none. */
  removeSshKey(address: string, fingerprint: string): Promise<boolean>;
}

/** A user's SSH public key (RFC 4253 6.6 wire form), for SFTP public-key login. */
export interface SshKey {
  /** e.g. "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256". */
  algorithm: string;
  /** The key blob as in authorized_keys' base64 field, decoded. */
  publicKey: Buffer;
  comment: string;
  /** OpenSSH's form: "SHA256:" + unpadded base64 of SHA-256 over the blob. */
  fingerprint: string;
  createdAt: Date;
}

/** A domain's DKIM signing key (RFC 6376): published as `<selector>._domainkey.<domain>` TXT. */
export interface DkimKey {
  /** DNS label(s), e.g. "wharf2026". */
  selector: string;
  /** 'rsa-sha256' (2048-bit key) or 'ed25519-sha256' (RFC 8463). */
  algorithm: 'rsa-sha256' | 'ed25519-sha256';
  /** PKCS#8 PEM. A secret: never logged. */
  privateKeyPem: string;
  createdAt: Date;
}
