/** Shared steps of the end-to-end tests. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
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

/** Runs a program to completion, collecting its output. */
export function run(
  command: string,
  args: string[],
  opts: { stdin?: string; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} did not finish in time; stderr: ${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.stdin ?? '');
  });
}
