import { realpath } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig, type ConfigOptions } from '../config/load.js';
import { copyStore, type CopyProgress, type CopyReport } from '../store/copy.js';
import { isPostgresUrl, openStore, storeExists, storeOptions, type OpenStoreOptions } from '../store/index.js';
import type { Store } from '../store/types.js';
import type { WharfConfig } from '../config/types.js';
import { copyFiles, type FileCopyReport } from '../store/copy-files.js';
import type { FileStore } from '../store/file-store.js';
import { fileStoreKind, LocalFileStore, openFileStore } from '../store/files/index.js';
import { addConfigOptions } from './common.js';
import { CliError, EXIT_FAILURE, UsageError } from './errors.js';

interface CopyOptions extends ConfigOptions {
  to: string;
  verify: boolean;
}

/** Exit code when Ctrl-C stopped the copy (128 + SIGINT, as a shell reports it). */
const EXIT_INTERRUPTED = 130;
/** A mailbox part-way through is reported at most this often. */
const PROGRESS_INTERVAL_MS = 2000;

/** `wharf store copy`: moving the whole store elsewhere (e.g. SQLite to PostgreSQL). */
export function registerStoreCommands(program: Command): void {
  const store = program.command('store').description('work on the store as a whole');

  addConfigOptions(store.command('copy'))
    .requiredOption('--to <url-or-dir>', 'the target: a postgres:// URL, or the data folder of another store')
    .option('--no-verify', 'skip comparing both stores afterwards')
    .description(
      'copy every domain, user, alias, mailbox and message into another store, keeping UIDVALIDITY, ' +
        'UIDs, flags and modseqs so IMAP clients keep their caches; run it again to resume or catch up. ' +
        'The source may be in service; the target must not be until the copy is done',
    )
    .action(async (options: CopyOptions) => {
      const config = await loadConfig({ options });
      // The source is the configured store: the data folder's, or WHARF_DATABASE_URL's.
      const from = storeOptions(config);
      const source = describeStore(from);
      const target = await describeTarget(options.to, from);
      // Opening a store creates it: a mistyped --data (or URL) must not copy an empty new one.
      if (!(await storeExists(from))) throw new UsageError(`no store in ${source.label} to copy`);
      const stop = new AbortController();
      const interrupt = () => stop.abort(new CliError('interrupted: run the same command again to resume', EXIT_INTERRUPTED));
      process.once('SIGINT', interrupt);
      let sourceStore: Store | null = null;
      let destination: Store | null = null;
      let report: CopyReport;
      let filesReport: FileCopyReport | null = null;
      const fileStores: FileStore[] = [];
      try {
        sourceStore = await openStore(from);
        destination = await openStore(target.open);
        process.stdout.write(`copying ${source.label} to ${target.label}\n`);
        report = await copyStore(sourceStore, destination, {
          signal: stop.signal,
          verify: options.verify,
          onProgress: progressPrinter(),
        });
        const sides = await fileStoresFor(config, sourceStore, destination, target.open);
        if (sides) {
          fileStores.push(sides.from, sides.to);
          filesReport = await copyFiles(
            { accounts: sourceStore, files: sides.from },
            { accounts: destination, files: sides.to },
            {
              signal: stop.signal,
              verify: options.verify,
              onSpace: (label, c) => void process.stdout.write(`files: ${label} done (${c.filesCopied} copied so far, ${c.filesSkipped} already there)\n`),
            },
          );
        }
      } finally {
        process.removeListener('SIGINT', interrupt);
        await Promise.allSettled(fileStores.map((f) => f.close()));
        await Promise.allSettled([sourceStore?.close(), destination?.close()]);
      }
      printSummary(report, filesReport);
    });
}

/**
 * The file stores on both sides, as `files.kind` picks them for each store; null when the
 * files stay where they are (both sides keep them in the same data folder).
 */
async function fileStoresFor(config: WharfConfig, source: Store, target: Store, targetOpen: OpenStoreOptions): Promise<{ from: FileStore; to: FileStore } | null> {
  const targetKind = fileStoreKind({ ...config, store: targetOpen.databaseUrl === undefined ? { kind: 'sqlite' } : { kind: 'postgres', url: targetOpen.databaseUrl } });
  const sourceKind = fileStoreKind(config);
  if (sourceKind === 'local' && targetKind === 'local') {
    const canonical = async (p: string) => realpath(p).catch(() => path.resolve(p));
    if ((await canonical(config.dataDir)) === (await canonical(targetOpen.dataDir))) {
      process.stdout.write(`files: they stay in ${config.dataDir}\n`);
      return null;
    }
  }
  if (targetKind === 'database' && targetOpen.databaseUrl === undefined) {
    throw new UsageError('files.kind "database" needs a PostgreSQL target');
  }
  const from = await openFileStore(config, source);
  try {
    // The database file store is the target store's own tables (openFileStore picks it by kind).
    const to = targetKind === 'local' ? await LocalFileStore.open(targetOpen.dataDir) : await openFileStore({ ...config, files: { ...config.files, kind: 'database' } }, target);
    return { from, to };
  } catch (err) {
    await from.close();
    throw err;
  }
}

/** A store as the person at the terminal knows it: its folder, or its database without credentials. */
function describeStore(open: OpenStoreOptions): { open: OpenStoreOptions; label: string } {
  if (open.databaseUrl === undefined) return { open, label: open.dataDir };
  // The URL may hold a password: only the database and its server are ever printed.
  const where = postgresLocation(open.databaseUrl);
  return { open, label: where ? `the PostgreSQL database ${where.database} on ${where.server}` : 'the PostgreSQL database' };
}

/** How to open the target, and how to name it; refuses the source itself. */
async function describeTarget(to: string, source: OpenStoreOptions): Promise<{ open: OpenStoreOptions; label: string }> {
  if (isPostgresUrl(to)) {
    const url = to.trim();
    const target = postgresLocation(url);
    const from = source.databaseUrl === undefined ? null : postgresLocation(source.databaseUrl);
    if (target && from && target.server === from.server && target.database === from.database) {
      throw new UsageError('the target is the source store itself');
    }
    return describeStore({ dataDir: source.dataDir, databaseUrl: url });
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(to)) throw new UsageError(`unsupported target ${JSON.stringify(to)}: use a postgres:// URL or a folder`);
  const dir = path.resolve(to);
  const canonical = async (p: string) => realpath(p).catch(() => p);
  if (source.databaseUrl === undefined && (await canonical(dir)) === (await canonical(source.dataDir))) {
    throw new UsageError('the target is the source store itself');
  }
  return describeStore({ dataDir: dir });
}

/** Server (host:port) and database name of a postgres:// URL; null if it cannot be parsed. */
function postgresLocation(url: string): { server: string; database: string } | null {
  try {
    const parsed = new URL(url.trim());
    // As libpq: without a database name, the user's name is the database's.
    const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || decodeURIComponent(parsed.username) || 'postgres';
    return { server: `${parsed.hostname.toLowerCase() || 'localhost'}:${parsed.port || '5432'}`, database };
  } catch {
    return null;
  }
}

function progressPrinter(): (p: CopyProgress) => void {
  let lastPartial = 0;
  let verifying = false;
  return (p) => {
    const t = p.totals;
    if (p.phase === 'accounts') {
      process.stdout.write(
        `accounts: ${t.domainsAdded} domains and ${t.usersAdded} users added, ${t.usersUpdated} users updated, ` +
          `alias targets +${t.aliasTargetsAdded} -${t.aliasTargetsRemoved}\n`,
      );
    } else if (p.phase === 'mail') {
      const where = `${p.user} ${p.mailbox}`;
      if (p.done) {
        process.stdout.write(`${where}: ${p.mailboxCopied} copied, ${p.mailboxSkipped} already there\n`);
        lastPartial = 0;
      } else if (Date.now() - lastPartial >= PROGRESS_INTERVAL_MS) {
        lastPartial = Date.now();
        const done = (p.mailboxCopied ?? 0) + (p.mailboxSkipped ?? 0);
        process.stdout.write(`${where}: ${done} of ${p.mailboxMessages} ...\n`);
      }
    } else if (!verifying) {
      verifying = true;
      process.stdout.write('verifying ...\n');
    }
  };
}

function mebibytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

function printSummary(report: CopyReport, files: FileCopyReport | null): void {
  const c = report.counts;
  const lines = [
    `copied ${c.messagesCopied} messages (${mebibytes(c.bytesCopied)}) in ${c.mailboxes} mailboxes; ${c.messagesSkipped} were already there`,
  ];
  if (c.flagsUpdated + c.messagesExpunged + c.messagesVanished + c.mailboxesRemoved > 0) {
    lines.push(
      `caught up with the source: flags set on ${c.flagsUpdated}, ${c.messagesExpunged} expunged, ` +
        `${c.mailboxesRemoved} empty mailboxes removed; ${c.messagesVanished} vanished from the source while copying`,
    );
  }
  if (c.queuedCopied + c.queuedUnchanged + c.queuedRemoved > 0) {
    lines.push(`outbound queue: ${c.queuedCopied} messages copied, ${c.queuedUnchanged} already there, ${c.queuedRemoved} removed`);
  }
  const v = report.verification;
  if (v) {
    lines.push(`verified ${v.mailboxesChecked} mailboxes, ${v.messagesChecked} messages, ${v.queuedChecked} queued: ${v.ok ? 'identical' : `${v.differences.length} differences`}`);
    if (v.notYetCopied > 0) {
      lines.push(`${v.notYetCopied} messages reached the source after their mailbox was copied: run again to copy them`);
    }
  }
  if (files) {
    const f = files.counts;
    lines.push(
      `files: ${f.filesCopied} copied (${mebibytes(f.bytesCopied)}), ${f.filesSkipped} already there, ${f.foldersMade} folders made, ` +
        `${f.filesVanished} vanished from the source while copying, in ${f.spaces} spaces` +
        (v ? `; ${f.filesVerified} verified byte for byte: ${files.differences.length === 0 ? 'identical' : `${files.differences.length} differences`}` : ''),
    );
  }
  process.stdout.write(lines.map((l) => `${l}\n`).join(''));

  const fileDifferences = files?.differences ?? [];
  const problems = [...report.problems, ...(v?.differences ?? []), ...fileDifferences];
  for (const problem of new Set(problems)) process.stderr.write(`difference: ${problem}\n`);
  if (v && !v.ok) throw new CliError(`verification failed: ${v.differences.length} differences`, EXIT_FAILURE);
  if (report.problems.length > 0) throw new CliError(`the copy is incomplete: ${report.problems.length} problems`, EXIT_FAILURE);
  if (fileDifferences.length > 0) throw new CliError(`the files differ: ${fileDifferences.length} differences`, EXIT_FAILURE);
}
