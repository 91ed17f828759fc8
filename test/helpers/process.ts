/** Runs a program to completion for a test (a real client such as python3 or curl, or wharf). */
import { spawn } from 'node:child_process';

export interface ProgramResult {
  /** The exit code; 128 + n when a signal ended it. */
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * `stdin` is written and closed; without it standard input is closed at once (so a program
 * that wants a terminal fails instead of hanging). A program still running after `timeoutMs`
 * is killed and the promise rejects with what it wrote on standard error.
 */
export function runProgram(
  command: string,
  args: string[],
  opts: { stdin?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ProgramResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ').slice(0, 80)} did not finish in time; stderr: ${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.stdin ?? '');
  });
}
