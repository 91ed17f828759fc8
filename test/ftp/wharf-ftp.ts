/**
 * A real `wharf serve` for the FTP end-to-end tests: its own settings (a JSON config file),
 * a user made with the CLI as an administrator would, and the FTP and FTPS ports.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeTempDir, removeDir } from '../helpers/cli.js';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';

export const FTP_USER = 'bob@hamburger.edu';
export const FTP_PASSWORD = 'hungry-for-files';

export interface FtpWharf {
  wharf: WharfProcess;
  ftp: number;
  ftps: number;
  close(): Promise<void>;
}

export interface FtpWharfOptions {
  /** Configuration merged over the defaults (e.g. { ftp: { requireTls: 'always' } }). */
  settings?: Record<string, unknown>;
  /** The address the server listens on (127.0.0.1 by default). */
  host?: string;
  /** `wharf user add --quota` value. */
  quota?: string;
}

export async function startFtpWharf(opts: FtpWharfOptions = {}): Promise<FtpWharf> {
  const configDir = await makeTempDir('wharf-ftp-config-');
  const configFile = path.join(configDir, 'config.json');
  await writeFile(configFile, JSON.stringify(opts.settings ?? {}));
  const env: Record<string, string> = { WHARF_CONFIG: configFile };
  if (opts.host) env.WHARF_HOST = opts.host;
  const wharf = await startWharf({ env });
  try {
    const domain = await wharf.cli(['domain', 'add', 'hamburger.edu']);
    assert.equal(domain.code, 0, domain.stderr);
    const args = ['user', 'add', FTP_USER, '--password-stdin', ...(opts.quota ? ['--quota', opts.quota] : [])];
    const user = await wharf.cli(args, `${FTP_PASSWORD}\n`);
    assert.equal(user.code, 0, user.stderr);
  } catch (err) {
    await wharf.stop();
    await wharf.removeData();
    await removeDir(configDir);
    throw err;
  }
  return {
    wharf,
    ftp: wharf.ports.ftp,
    ftps: wharf.ports.ftps,
    async close() {
      await wharf.stop();
      await wharf.removeData();
      await removeDir(configDir);
    },
  };
}
