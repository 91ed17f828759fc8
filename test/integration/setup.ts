/** Shared steps of the end-to-end tests. */
import assert from 'node:assert/strict';
import type { LineClient } from '../helpers/line-client.js';
import type { WharfProcess } from '../helpers/wharf.js';

export const BOB_PASSWORD = 'hungry';

/** The classic example's accounts, made the way an administrator would: with the CLI. */
export async function addBob(wharf: WharfProcess): Promise<void> {
  const domain = await wharf.cli(['domain', 'add', 'hamburger.edu']);
  assert.equal(domain.code, 0, domain.stderr);
  const user = await wharf.cli(['user', 'add', 'bob@hamburger.edu', '--password-stdin'], `${BOB_PASSWORD}\n`);
  assert.equal(user.code, 0, user.stderr);
}

/** One complete mail transaction on an open SMTP connection (after HELO/EHLO). */
export async function sendMessage(client: LineClient, bodyLines: string[]): Promise<void> {
  assert.equal((await client.smtp('MAIL FROM: <alice@crepes.fr>')).code, 250);
  assert.equal((await client.smtp('RCPT TO: <bob@hamburger.edu>')).code, 250);
  assert.equal((await client.smtp('DATA')).code, 354);
  for (const line of bodyLines) client.send(line.startsWith('.') ? '.' + line : line);
  const accepted = await client.smtp('.');
  assert.equal(accepted.code, 250, accepted.lines.join('\n'));
}

export { runProgram as run } from '../helpers/process.js';
