import type { Command } from 'commander';
import { loadConfig, type ConfigOptions } from '../config/load.js';
import { freshSelector, generateDkimKey, type DkimAlgorithm } from '../smtp/dkim-keys.js';
import { StoreError, type DkimKey, type Store } from '../store/types.js';
import { addConfigOptions, printLines, withStore } from './common.js';
import { domainDnsRecords } from './dns-records.js';
import { UsageError } from './errors.js';

/** `--algorithm` as typed → the key's algorithm. */
function parseAlgorithm(text: string | undefined): DkimAlgorithm | undefined {
  if (text === undefined) return undefined;
  const value = text.trim().toLowerCase();
  if (value === 'rsa' || value === 'rsa-sha256') return 'rsa-sha256';
  if (value === 'ed25519' || value === 'ed25519-sha256') return 'ed25519-sha256';
  throw new UsageError(`unknown DKIM algorithm ${JSON.stringify(text)}: use rsa or ed25519`);
}

/** The domain as stored, or 'not-found' (exit 1) when it is not a local domain. */
async function requireDomain(store: Store, name: string): Promise<string> {
  const wanted = name.trim().toLowerCase();
  const found = (await store.listDomains()).find((d) => d.name === wanted);
  if (!found) throw new StoreError('not-found', `no domain ${wanted}`);
  return found.name;
}

const describeKey = (domain: string, key: DkimKey) => `DKIM key ${key.selector} (${key.algorithm}) for ${domain}`;

/** `wharf domain add|list|remove|dkim|dns`: the mail domains this server accepts mail for. */
export function registerDomainCommands(program: Command): void {
  const domain = program.command('domain').description('manage the mail domains this server is the destination for');

  addConfigOptions(domain.command('add').argument('<name>', 'domain name, e.g. example.org'))
    .description('add a local domain, with a DKIM signing key')
    .option('--postmaster <address>', 'also make postmaster@<name> an alias of this address (RFC 5321 4.5.1)')
    .action(async (name: string, options: ConfigOptions & { postmaster?: string }) => {
      // Made before the domain, so a slow or failed key generation leaves nothing behind.
      const key = await generateDkimKey('rsa-sha256');
      const added = await withStore(options, async (store) => {
        const d = await store.addDomain(name);
        try {
          await store.setDkimKey(d.name, key);
          if (options.postmaster) await store.addAlias(`postmaster@${d.name}`, [options.postmaster]);
        } catch (err) {
          // All or nothing: a failed key or alias leaves no half-set-up domain behind.
          await store.removeDomain(d.name);
          throw err;
        }
        return d;
      });
      process.stdout.write(`added domain ${added.name}\n`);
      if (options.postmaster) {
        process.stdout.write(`added alias postmaster@${added.name} -> ${options.postmaster.toLowerCase()}\n`);
      }
      process.stdout.write(`added ${describeKey(added.name, key)}; publish the DNS records: wharf domain dns ${added.name}\n`);
      if (!options.postmaster) {
        // Every mail domain must accept mail for its postmaster; say how, rather than guess whom.
        process.stderr.write(
          `note: mail to postmaster@${added.name} is refused until it reaches someone: ` +
            `wharf alias add postmaster@${added.name} <address>\n`,
        );
      }
    });

  addConfigOptions(domain.command('list'))
    .description('list the local domains, one per line')
    .action(async (options: ConfigOptions) => {
      const domains = await withStore(options, (store) => store.listDomains());
      printLines(domains.map((d) => d.name));
    });

  addConfigOptions(domain.command('remove').argument('<name>', 'domain name'))
    .description('remove a domain (it must have no users or aliases left)')
    .action(async (name: string, options: ConfigOptions) => {
      await withStore(options, (store) => store.removeDomain(name));
      process.stdout.write(`removed domain ${name.toLowerCase()}\n`);
    });

  addConfigOptions(domain.command('dkim').argument('<name>', 'domain name'))
    .description("show the domain's DKIM key, making one if it has none")
    .option('--rotate', 'replace the key with a new one under a new selector')
    .option('--algorithm <algorithm>', 'rsa (2048-bit, the default) or ed25519 (RFC 8463)')
    .action(async (name: string, options: ConfigOptions & { rotate?: boolean; algorithm?: string }) => {
      const algorithm = parseAlgorithm(options.algorithm);
      const result = await withStore(options, async (store) => {
        const d = await requireDomain(store, name);
        const current = await store.getDkimKey(d);
        if (current && !options.rotate) {
          if (algorithm && algorithm !== current.algorithm) {
            throw new UsageError(`${d} already has an ${current.algorithm} key; add --rotate to replace it with an ${algorithm} key`);
          }
          return { domain: d, key: current, previous: null, created: false };
        }
        const key = await generateDkimKey(algorithm ?? current?.algorithm ?? 'rsa-sha256', freshSelector(current?.selector ?? null));
        await store.setDkimKey(d, key);
        return { domain: d, key, previous: current, created: true };
      });
      const { domain: d, key, previous, created } = result;
      const lines = [`${created ? (previous ? 'rotated to' : 'added') : 'current'} ${describeKey(d, key)}`];
      if (previous) {
        // Mail signed with the old key may still be in queues and mailboxes for a while.
        lines.push(`keep the record of the old selector ${previous.selector}._domainkey.${d} published for a week`);
      }
      lines.push(`publish the DNS records: wharf domain dns ${d}`);
      printLines(lines);
    });

  addConfigOptions(domain.command('dns').argument('<name>', 'domain name'))
    .description('print the DNS records to publish for the domain (MX, SPF, DKIM, DMARC, SRV), zone-file style')
    .action(async (name: string, options: ConfigOptions) => {
      const config = await loadConfig({ options });
      const lines = await withStore(options, async (store) => {
        const d = await requireDomain(store, name);
        return domainDnsRecords(d, config, await store.getDkimKey(d));
      });
      printLines(lines);
    });
}
