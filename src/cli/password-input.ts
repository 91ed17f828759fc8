/**
 * Reading a new password. It never comes from the command line, where it would be visible
 * to every user through `ps` and kept in shell history: either a terminal prompt with echo
 * off, or the first line of standard input (`--password-stdin`, for scripts).
 */
import type { Readable, Writable } from 'node:stream';
import { CliError, UsageError } from './errors.js';

/** Longest password accepted; more is almost certainly a wrong file piped in. */
const MAX_PASSWORD_BYTES = 4096;

interface TtyInput extends Readable {
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

export interface PasswordSource {
  fromStdin: boolean;
  input?: TtyInput;
  /** Where prompts go: standard error, so standard output stays clean for scripts. */
  output?: Writable;
}

/** The first line of a stream (without its line ending); the rest is left unread. */
export function readFirstLine(input: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (err: Error | null, line?: string) => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onError);
      input.pause();
      if (err) reject(err);
      else resolve(line ?? '');
    };
    const onData = (chunk: Buffer | string) => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      const lf = buf.indexOf(0x0a);
      chunks.push(lf >= 0 ? buf.subarray(0, lf) : buf);
      size += lf >= 0 ? lf : buf.length;
      if (size > MAX_PASSWORD_BYTES) return finish(new UsageError(`password longer than ${MAX_PASSWORD_BYTES} bytes`));
      if (lf >= 0) finish(null, Buffer.concat(chunks).toString('utf8').replace(/\r$/, ''));
    };
    const onEnd = () => finish(null, Buffer.concat(chunks).toString('utf8').replace(/\r$/, ''));
    const onError = (err: Error) => finish(err);
    input.on('data', onData);
    input.on('end', onEnd);
    input.on('error', onError);
    input.resume();
  });
}

/** Prompts on a terminal with echo off. Ctrl-C cancels (exit 130, as shells report SIGINT). */
export function promptHidden(prompt: string, input: TtyInput, output: Writable): Promise<string> {
  return new Promise((resolve, reject) => {
    // Echo goes off before the prompt appears: whatever is typed after seeing it stays hidden.
    input.setRawMode?.(true);
    input.setEncoding('utf8');
    output.write(prompt);
    let value = '';
    const finish = (err: Error | null) => {
      input.off('data', onData);
      input.setRawMode?.(false);
      input.pause();
      output.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (text: string) => {
      for (const ch of text) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish(null);
        if (ch === '\u0003') return finish(new CliError('cancelled', 130));
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch >= ' ') value += ch;
      }
    };
    input.on('data', onData);
    input.resume();
  });
}

/** Gets a new password, asking twice on a terminal so a typo does not lock the user out. */
export async function readNewPassword(source: PasswordSource): Promise<string> {
  const input = source.input ?? (process.stdin as TtyInput);
  const output = source.output ?? process.stderr;
  let password: string;
  if (source.fromStdin) {
    password = await readFirstLine(input);
  } else {
    if (!input.isTTY) {
      throw new UsageError('no terminal to ask for the password on; pipe it in with --password-stdin');
    }
    password = await promptHidden('New password: ', input, output);
    if (password.length > 0) {
      const again = await promptHidden('Repeat password: ', input, output);
      if (again !== password) throw new CliError('the passwords do not match');
    }
  }
  if (password.length === 0) throw new UsageError('the password must not be empty');
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) {
    throw new UsageError(`password longer than ${MAX_PASSWORD_BYTES} bytes`);
  }
  return password;
}

/**
 * A login password for a client command (`wharf send`, `wharf ftp`): the first line of
 * standard input with `--password-stdin`, else a prompt on the terminal without echo. Never
 * from the command line, where other users of the machine could read it.
 */
export async function readLoginPassword(user: string, fromStdin: boolean): Promise<string> {
  const input = process.stdin as Readable & { isTTY?: boolean; setRawMode?(mode: boolean): unknown };
  let password: string;
  if (fromStdin) {
    password = await readFirstLine(input);
  } else {
    if (!input.isTTY) throw new UsageError('no terminal to ask for the password on; pipe it in with --password-stdin');
    password = await promptHidden(`Password for ${user}: `, input, process.stderr);
  }
  if (password.length === 0) throw new UsageError('the password must not be empty');
  return password;
}
