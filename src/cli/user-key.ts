/**
 * `wharf user key add|list|remove`: the SSH public keys a user logs in to SFTP with. Keys are
 * read as authorized_keys lines (what `ssh-keygen` writes to id_ed25519.pub), so
 * `wharf user key add bob@example.org < ~/.ssh/id_ed25519.pub` works, and a whole
 * authorized_keys file adds every key in it.
 */
import type { Command } from 'commander';
import ssh2 from 'ssh2';
import type { ConfigOptions } from '../config/load.js';
import { sshFingerprint } from '../sftp/host-keys.js';
import { parseAddress } from '../store/normalize.js';
import { addConfigOptions, printLines, withStore } from './common.js';
import { CliError, UsageError } from './errors.js';

/** An authorized_keys file bigger than this is not a list of keys. */
const MAX_INPUT_BYTES = 1024 * 1024;

export interface PublicKeyLine {
  algorithm: string;
  publicKey: Buffer;
  comment: string;
  fingerprint: string;
}

/**
 * The keys of authorized_keys-format text: one key per line, blank lines and # comments
 * skipped, leading options (`no-pty,from="..." ssh-ed25519 AAAA...`) ignored. A line that is
 * not a public key is an error naming its line number, so nothing is half added.
 */
export function parsePublicKeyLines(text: string): PublicKeyLine[] {
  const keys: PublicKeyLine[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('-----BEGIN')) throw new UsageError('this is a private key: give the public key (the .pub file)');
    const key = parseKeyLine(line) ?? parseKeyLine(withoutOptions(line));
    if (!key) throw new UsageError(`line ${i + 1} is not an SSH public key`);
    keys.push(key);
  }
  if (keys.length === 0) throw new UsageError('no public key on standard input (expected a line like "ssh-ed25519 AAAA... comment")');
  return keys;
}

function parseKeyLine(line: string): PublicKeyLine | null {
  const parsed = ssh2.utils.parseKey(line);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error || key.isPrivateKey()) return null;
  const publicKey = key.getPublicSSH();
  return { algorithm: key.type, publicKey, comment: key.comment ?? '', fingerprint: sshFingerprint(publicKey) };
}

/** The line from its key type on: authorized_keys options may hold quoted spaces, so search for the type. */
function withoutOptions(line: string): string {
  const at = line.search(/(^|\s)(ssh-|ecdsa-|sk-)/);
  return at < 0 ? line : line.slice(at).trim();
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new UsageError('give the public key on standard input: wharf user key add ADDRESS < id_ed25519.pub');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > MAX_INPUT_BYTES) throw new UsageError('standard input is too large for a list of public keys');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function registerUserKeyCommands(user: Command): void {
  const key = user.command('key').description('manage a user\'s SSH public keys for SFTP login');

  addConfigOptions(key.command('add').argument('<address>', 'the user\'s address'))
    .description('add the public keys read from standard input (authorized_keys lines, e.g. < id_ed25519.pub)')
    .action(async (address: string, options: ConfigOptions) => {
      const parsed = parseAddress(address);
      const keys = parsePublicKeyLines(await readStdin());
      const added = await withStore(options, async (store) => {
        if (!(await store.getUser(parsed.address))) throw new CliError(`no such user: ${parsed.address}`);
        const existing = new Set((await store.listSshKeys(parsed.address)).map((k) => k.fingerprint));
        const out: string[] = [];
        for (const k of keys) {
          if (existing.has(k.fingerprint)) {
            out.push(`already there: ${k.fingerprint} (${k.algorithm}${k.comment ? ' ' + k.comment : ''})`);
            continue;
          }
          const saved = await store.addSshKey(parsed.address, { algorithm: k.algorithm, publicKey: k.publicKey, comment: k.comment });
          existing.add(saved.fingerprint);
          out.push(`added key ${saved.fingerprint} (${saved.algorithm}${saved.comment ? ' ' + saved.comment : ''}) for ${parsed.address}`);
        }
        return out;
      });
      printLines(added);
    });

  addConfigOptions(key.command('list').argument('<address>', 'the user\'s address'))
    .description('list a user\'s SSH keys: fingerprint, type, comment, date added')
    .action(async (address: string, options: ConfigOptions) => {
      const parsed = parseAddress(address);
      const keys = await withStore(options, async (store) => {
        if (!(await store.getUser(parsed.address))) throw new CliError(`no such user: ${parsed.address}`);
        return store.listSshKeys(parsed.address);
      });
      printLines(keys.map((k) => `${k.fingerprint} ${k.algorithm} ${k.comment || '-'} ${k.createdAt.toISOString()}`));
    });

  addConfigOptions(
    key
      .command('remove')
      .argument('<address>', 'the user\'s address')
      .argument('<fingerprint>', 'the key\'s fingerprint as `wharf user key list` shows it (SHA256:...)'),
  )
    .description('remove one of a user\'s SSH keys')
    .action(async (address: string, fingerprint: string, options: ConfigOptions) => {
      const parsed = parseAddress(address);
      const wanted = fingerprint.startsWith('SHA256:') ? fingerprint : `SHA256:${fingerprint}`;
      const removed = await withStore(options, (store) => store.removeSshKey(parsed.address, wanted));
      if (!removed) throw new CliError(`${parsed.address} has no key ${wanted}`);
      process.stdout.write(`removed key ${wanted} of ${parsed.address}\n`);
    });
}
