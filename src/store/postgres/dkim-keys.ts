/** Domains' DKIM signing keys (a key goes with its domain: ON DELETE CASCADE). */
import { checkDkimKey, normalizeDomain } from '../normalize.js';
import { StoreError, type DkimKey } from '../types.js';
import type { Database } from './db.js';

interface KeyRow {
  selector: string;
  algorithm: DkimKey['algorithm'];
  private_key_pem: string;
  created_at: Date;
}

export class DkimKeys {
  constructor(private readonly db: Database) {}

  async set(name: string, input: DkimKey): Promise<void> {
    const domain = normalizeDomain(name);
    const key = checkDkimKey(input);
    const stored = await this.db.count(
      `INSERT INTO dkim_keys (domain, selector, algorithm, private_key_pem, created_at)
       SELECT name, $2, $3, $4, $5 FROM domains WHERE name = $1
       ON CONFLICT (domain) DO UPDATE SET selector = excluded.selector, algorithm = excluded.algorithm,
         private_key_pem = excluded.private_key_pem, created_at = excluded.created_at`,
      [domain, key.selector, key.algorithm, key.privateKeyPem, key.createdAt],
    );
    if (stored === 0) throw new StoreError('not-found', `no domain ${domain}`);
  }

  async get(name: string): Promise<DkimKey | null> {
    let domain: string;
    try {
      domain = normalizeDomain(name);
    } catch {
      return null;
    }
    const row = await this.db.one<KeyRow>(
      'SELECT selector, algorithm, private_key_pem, created_at FROM dkim_keys WHERE domain = $1',
      [domain],
    );
    if (!row) return null;
    return { selector: row.selector, algorithm: row.algorithm, privateKeyPem: row.private_key_pem, createdAt: row.created_at };
  }
}
