/**
 * `wharf send`: a small mail user agent. It composes a message (src/mime/compose.ts) and
 * submits it to any submission server (RFC 6409) with Wharf's own SMTP client: STARTTLS (or
 * implicit TLS with --tls), the certificate checked unless --insecure, AUTH with a password
 * from a prompt or standard input, never from the command line. Bcc recipients go only into
 * the envelope. --verbose prints the dialogue on standard error with the AUTH lines masked.
 */
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import type { Command } from 'commander';
import { ComposeError, composeMessage, parseMailbox, type Mailbox } from '../mime/compose.js';
import { SmtpClientError, failureReply } from '../queue/smtp-client/errors.js';
import { SmtpClientSession } from '../queue/smtp-client/session.js';
import { sendMessage } from '../queue/smtp-client/transaction.js';
import { tlsOptions } from '../queue/tls-policy.js';
import { readCaOption } from './common.js';
import { CliError, UsageError } from './errors.js';
import { readLoginPassword } from './password-input.js';

interface SendOptions {
  server: string;
  user?: string;
  from?: string;
  to?: string[];
  cc?: string[];
  bcc?: string[];
  subject?: string;
  body?: string;
  bodyFile?: string;
  attach?: string[];
  tls?: boolean;
  insecure?: boolean;
  ca?: string;
  passwordStdin?: boolean;
  verbose?: boolean;
  ehlo?: string;
  timeout?: string;
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** "host:port", "[v6]:port" or "host" (then the submission port: 587, or 465 with --tls). */
export function parseServer(text: string, implicitTls: boolean): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:[\]]+)(?::(\d+))?$/.exec(text);
  if (!m || (m[0].startsWith('[') && !net.isIPv6(m[1]))) throw new UsageError(`invalid --server ${JSON.stringify(text)}: use host:port`);
  const port = m[2] === undefined ? (implicitTls ? 465 : 587) : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`invalid port in --server ${JSON.stringify(text)}`);
  return { host: m[1], port };
}

function mailboxes(values: string[], option: string): Mailbox[] {
  return values.map((v) => {
    try {
      return parseMailbox(v);
    } catch (err) {
      throw new UsageError(`${option}: ${(err as Error).message}`);
    }
  });
}


export function registerSendCommand(program: Command): void {
  program
    .command('send')
    .description('compose a message and submit it to a mail server (submission with STARTTLS or TLS, and AUTH)')
    .requiredOption('--server <host:port>', 'submission server (port 587 by default, 465 with --tls)')
    .option('--user <login>', 'log in as this user (the password is asked for, or read with --password-stdin)')
    .option('--from <address>', 'sender, "Name <address>" or address (default: --user)')
    .option('--to <address>', 'recipient (repeatable)', collect)
    .option('--cc <address>', 'copy recipient (repeatable)', collect)
    .option('--bcc <address>', 'blind copy recipient: in the envelope only (repeatable)', collect)
    .option('--subject <text>', 'subject')
    .option('--body <text>', 'the message text')
    .option('--body-file <file>', 'read the message text from a file (UTF-8)')
    .option('--attach <file>', 'attach a file (repeatable)', collect)
    .option('--tls', 'TLS from the first byte (port 465) instead of STARTTLS')
    .option('--insecure', 'do not check the server\'s certificate')
    .option('--ca <file>', 'also trust the CA certificates in this PEM file')
    .option('--password-stdin', 'read the password from the first line of standard input instead of prompting')
    .option('--ehlo <name>', 'name to introduce this host with (default: the host name when fully qualified, else the address)')
    .option('--timeout <seconds>', 'time limit for the connection and for each reply (default: 60)')
    .option('--verbose', 'print the SMTP dialogue on standard error (AUTH masked)')
    .action(async (options: SendOptions) => {
      await runSend(options);
    });
}

async function runSend(options: SendOptions): Promise<void> {
  // Everything that can be wrong with the command line is found before a password is asked for.
  const server = parseServer(options.server, Boolean(options.tls));
  const timeoutMs = Number(options.timeout ?? '60') * 1000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new UsageError('--timeout must be a positive number of seconds');
  if (options.body !== undefined && options.bodyFile !== undefined) throw new UsageError('use --body or --body-file, not both');
  const fromText = options.from ?? options.user;
  if (!fromText) throw new UsageError('--from is needed (or --user with an address)');
  const [from] = mailboxes([fromText], '--from');
  const to = mailboxes(options.to ?? [], '--to');
  const cc = mailboxes(options.cc ?? [], '--cc');
  const bcc = mailboxes(options.bcc ?? [], '--bcc');
  const recipients = [...new Set([...to, ...cc, ...bcc].map((m) => m.address))];
  if (recipients.length === 0) throw new UsageError('no recipient: give --to, --cc or --bcc');
  let text = options.body ?? '';
  if (options.bodyFile !== undefined) {
    try {
      text = await readFile(options.bodyFile, 'utf8');
    } catch {
      throw new UsageError(`cannot read --body-file ${options.bodyFile}`);
    }
  }
  const ca = await readCaOption(options.ca);
  let message;
  try {
    message = await composeMessage({ from, to, cc, subject: options.subject ?? '', text, attachments: (options.attach ?? []).map((p) => ({ path: p })) });
  } catch (err) {
    if (err instanceof ComposeError) throw new UsageError(err.message);
    throw err;
  }
  const password = options.user ? await readLoginPassword(options.user, Boolean(options.passwordStdin)) : null;

  const trace = options.verbose ? (direction: string, line: string) => process.stderr.write(`${direction}: ${line}\n`) : undefined;
  const verify = !options.insecure;
  let session: SmtpClientSession | null = null;
  try {
    session = await SmtpClientSession.open({
      host: server.host,
      port: server.port,
      // A bare host name ("laptop") is no name to introduce oneself with: the address literal is.
      clientName: options.ehlo ?? (os.hostname().includes('.') ? os.hostname() : undefined),
      connectTimeoutMs: timeoutMs,
      commandTimeoutMs: timeoutMs,
      implicitTls: options.tls ? tlsOptions(verify, ca) : undefined,
      trace,
    });
    if (!session.secure) {
      // Submission carries a password and the message: never in the clear.
      if (!session.extensions.startTls) throw new CliError(`${server.host} does not offer STARTTLS; try --tls (port 465)`);
      const refusal = await session.startTls(tlsOptions(verify, ca));
      if (refusal) throw new CliError(`${server.host} refused STARTTLS: ${refusal.code} ${refusal.lines.join(' ')}`);
    }
    if (options.user && password !== null) await session.login(options.user, password);
    const result = await sendMessage(session, {
      mailFrom: from.address,
      recipients,
      size: message.size,
      eightBit: message.eightBit,
      smtputf8: message.smtputf8,
      body: () => message.body(),
    });
    const refused = result.recipients.filter((r) => r.outcome !== 'delivered');
    for (const r of refused) process.stderr.write(`wharf: ${r.address}: ${r.reply}\n`);
    const accepted = result.recipients.length - refused.length;
    if (accepted > 0) {
      const reply = result.recipients.find((r) => r.outcome === 'delivered')!.reply;
      process.stdout.write(`sent ${message.messageId} to ${accepted} of ${recipients.length} recipient${recipients.length === 1 ? '' : 's'}: ${reply}\n`);
    }
    if (refused.length > 0) throw new CliError(accepted > 0 ? 'some recipients were refused' : 'the message was not accepted');
  } catch (err) {
    if (err instanceof SmtpClientError) {
      const what = err.kind === 'reply' && err.stage === 'AUTH' ? 'login refused' : `${err.stage} failed`;
      throw new CliError(`${what}: ${failureReply(err, server.host)}`);
    }
    throw err;
  } finally {
    await session?.quit();
  }
}
