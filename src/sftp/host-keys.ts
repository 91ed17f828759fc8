/**
 * The server's SSH host keys: made on the first start and kept in the data folder (as
 * OpenSSH's ssh_host_*_key files, mode 0600), so a client that trusted the server once keeps
 * trusting it after restarts and upgrades. An Ed25519 key for current clients and an ECDSA
 * P-256 key for older ones (generated in milliseconds, unlike RSA).
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import ssh2 from 'ssh2';
import type { ParsedKey } from 'ssh2';
import type { Logger } from '../net/types.js';

const { utils } = ssh2;

export interface HostKey {
  /** e.g. "ssh-ed25519". */
  algorithm: string;
  /** As `ssh-keygen -lf` prints it: "SHA256:" and unpadded base64. */
  fingerprint: string;
  file: string;
  /** The private key file's text (ssh2 takes host keys as text, not parsed). */
  privateKey: string;
}

/** The OpenSSH fingerprint of a public key blob (RFC 4253 6.6 wire form). */
export function sshFingerprint(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

const KINDS = [
  { file: 'ssh_host_ed25519_key', generate: () => usablePair(() => utils.generateKeyPairSync('ed25519', { comment: 'wharf' })) },
  { file: 'ssh_host_ecdsa_key', generate: () => usablePair(() => utils.generateKeyPairSync('ecdsa', { bits: 256, comment: 'wharf' })) },
];

/**
 * A generated pair that ssh2 can read back. Its Ed25519 key generation strips leading zero
 * bytes of the public key, so about 1 key in 256 cannot be parsed (mscdex/ssh2 issue 1390):
 * such a pair is thrown away and another made, rather than failing the first start.
 */
function usablePair(generate: () => { private: string }): { private: string } {
  for (let attempt = 0; ; attempt++) {
    const pair = generate();
    if (!(utils.parseKey(pair.private) instanceof Error) || attempt >= 20) return pair;
  }
}

function parsePrivate(text: string, file: string): ParsedKey {
  const parsed = utils.parseKey(text);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key instanceof Error || !key) throw new Error(`${file}: not a usable SSH private key (${key instanceof Error ? key.message : 'empty'})`);
  return key;
}

/** Loads the host keys from `dataDir`, generating (and logging) those missing. */
export async function loadHostKeys(dataDir: string, log: Logger): Promise<HostKey[]> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const keys: HostKey[] = [];
  for (const kind of KINDS) {
    const file = path.join(dataDir, kind.file);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      const pair = kind.generate();
      // 'wx': two nodes starting on one data folder must not overwrite each other's new key.
      await writeFile(file, pair.private, { mode: 0o600, flag: 'wx' }).catch(async (e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
      text = await readFile(file, 'utf8');
      await writeFile(file + '.pub', publicLine(parsePrivate(text, file)), { mode: 0o644 });
      log.info('generated ssh host key', { file });
    }
    const key = parsePrivate(text, file);
    keys.push({ algorithm: key.type, fingerprint: sshFingerprint(key.getPublicSSH()), file, privateKey: text });
  }
  return keys;
}

/** The key as an authorized_keys / known_hosts line. */
function publicLine(key: ParsedKey): string {
  return `${key.type} ${key.getPublicSSH().toString('base64')} wharf\n`;
}
