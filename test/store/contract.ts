/**
 * Plumbing shared by the Store contract suites. There is one suite per facet of the contract
 * (test/store/contract-*.ts); each uses only the Store interface, so every backend (SQLite
 * now, PostgreSQL later) runs the same suites:
 *
 *   runAccountContract('sqlite', async () => ({ store, cleanup }));
 *
 * `open` must return a fresh, empty store; `cleanup` must close it (close() may already have
 * been called by the test) and remove its data.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe } from 'node:test';
import type { Store } from '../../src/store/types.js';

export interface StoreFixture {
  store: Store;
  /** Opens another store on the same database, as a second process or node would. */
  openAnother(): Promise<Store>;
  cleanup(): Promise<void>;
}

export type OpenStore = () => Promise<StoreFixture>;

/** Gives the test bodies access to the store of the running test. */
export interface ContractContext {
  readonly store: Store;
  /** Another store sharing the running test's database; closed after the test. */
  openAnother(): Promise<Store>;
}

/** A describe() whose every test gets a fresh store from `open`. */
export function contractSuite(title: string, open: OpenStore, body: (ctx: ContractContext) => void): void {
  describe(title, () => {
    let fixture: StoreFixture | null = null;
    let others: Store[] = [];
    const ctx: ContractContext = {
      get store(): Store {
        assert.ok(fixture, 'no store open');
        return fixture.store;
      },
      async openAnother(): Promise<Store> {
        assert.ok(fixture, 'no store open');
        const other = await fixture.openAnother();
        others.push(other);
        return other;
      },
    };
    beforeEach(async () => {
      fixture = await open();
    });
    afterEach(async () => {
      await Promise.all(others.map((other) => other.close()));
      others = [];
      await fixture?.cleanup();
      fixture = null;
    });
    body(ctx);
  });
}
