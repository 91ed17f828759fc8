/**
 * An FTP server in this process for the engine's tests: the real listener (plain and implicit
 * TLS) and session code over an in-memory file store, a fixed-password Authenticator and the
 * test store for accounts. End-to-end tests with `wharf serve` and real clients are elsewhere.
 */
import type { WharfConfig } from '../../src/config/types.js';
import { createFtpHandler } from '../../src/ftp/index.js';
import type { FileSpace } from '../../src/store/file-store.js';
import { DOMAIN, startMailHarness, type MailHarness } from '../helpers/mail-harness.js';
import { testConfig } from '../helpers/service.js';
import { MemoryFileStore } from './memory-file-store.js';

export const PASSWORD = 'open-sesame';

export interface FtpHarness extends MailHarness {
  files: MemoryFileStore;
  /** bob@example.org's space. */
  space: FileSpace;
  /** Quota left for uploads (null: unlimited). */
  allowance: number | null;
  ftpPort: number;
  ftpsPort: number;
}

export async function startFtpHarness(configure: (config: WharfConfig) => void = () => {}): Promise<FtpHarness> {
  const files = new MemoryFileStore();
  const state = { allowance: null as number | null };
  const h = await startMailHarness({
    names: ['ftp', 'ftps'],
    config: (dataDir) => {
      const config = testConfig(dataDir, { auth: { allowInsecure: false, defaultDomain: DOMAIN } });
      configure(config);
      return config;
    },
    handler: (ctx) => createFtpHandler(ctx, files, async (space) => (space.kind === 'anonymous' ? 0 : state.allowance)),
  });
  const user = await h.addUser('bob', PASSWORD);
  const harness = Object.assign(h, {
    files,
    space: { kind: 'user', userId: user.id, address: user.address } as FileSpace,
    ftpPort: h.plain.port,
    ftpsPort: h.secure.port,
  });
  Object.defineProperty(harness, 'allowance', {
    get: () => state.allowance,
    set: (v: number | null) => (state.allowance = v),
  });
  return harness as FtpHarness;
}
