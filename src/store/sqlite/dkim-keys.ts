/** Domains' DKIM signing keys (a key goes with its domain: ON DELETE CASCADE). */
import { checkDkimKey, normalizeDomain } from '../normalize.js';
import { StoreError, type DkimKey } from '../types.js';
import type { Db } from './schema.js';
import type { WriteQueue } from './write-queue.js';

interface KeyRow {
  selector: string;
  algorithm: DkimKey['algorithm'];
  private_key_pem: string;
  created_at: number;
}

export class DkimKeys {
  private readonly stmts;

  constructor(
    db: Db,
    private readonly queue: WriteQueue,
  ) {
    this.stmts = {
      domainExists: db.prepare('SELECT 1 FROM domains WHERE name = ?').pluck(),
      upsert: db.prepare(
        `INSERT INTO dkim_keys (domain, selector, algorithm, private_key_pem, created_at)
         VALUES (@domain, @selector, @algorithm, @pem, @createdAt)
         ON CONFLICT (domain) DO UPDATE SET selector = excluded.selector, algorithm = excluded.algorithm,
           private_key_pem = excluded.private_key_pem, created_at = excluded.created_at`,
      ),
      get: db.prepare('SELECT selector, algorithm, private_key_pem, created_at FROM dkim_keys WHERE domain = ?'),
    };
  }

  async set(name: string, input: DkimKey): Promise<void> {
    const domain = normalizeDomain(name);
    const key = checkDkimKey(input);
    return this.queue.run(() => {
      if (!this.stmts.domainExists.get(domain)) throw new StoreError('not-found', `no domain ${domain}`);
      this.stmts.upsert.run({
        domain,
        selector: key.selector,
        algorithm: key.algorithm,
        pem: key.privateKeyPem,
        createdAt: key.createdAt.getTime(),
      });
    });
  }

  async get(name: string): Promise<DkimKey | null> {
    let domain: string;
    try {
      domain = normalizeDomain(name);
    } catch {
      return null;
    }
    const row = this.stmts.get.get(domain) as KeyRow | undefined;
    if (!row) return null;
    return {
      selector: row.selector,
      algorithm: row.algorithm,
      privateKeyPem: row.private_key_pem,
      createdAt: new Date(row.created_at),
    };
  }
}
