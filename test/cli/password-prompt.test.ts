/**
 * The interactive password prompt, on a real pseudo-terminal (Python's pty module): what is
 * typed must not be echoed, and the password must be confirmed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { verifyPassword } from '../../src/auth/password.js';
import { openStore } from '../../src/store/index.js';
import { makeTempDir, removeDir, runWharf, WHARF_MAIN } from '../helpers/cli.js';

/** Runs argv on a pty, answers each prompt with the next reply, prints {status, output} as JSON. */
const PTY_SCRIPT = String.raw`
import json, os, pty, sys, time
replies = json.loads(sys.argv[1])
argv = sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
output = b''
def read_more():
    global output
    try:
        chunk = os.read(fd, 1024)
    except OSError:  # the child has exited and closed the terminal
        return False
    output += chunk
    return len(chunk) > 0
for i, reply in enumerate(replies):
    # Wait for the (i+1)-th prompt before typing.
    while output.count(b'password: ') <= i:
        if not read_more():
            break
    os.write(fd, reply.encode() + b'\r')
    # Anything echoed would arrive right after the prompt; give it a moment to show up.
    time.sleep(0.3)
while read_more():
    pass
_, status = os.waitpid(pid, 0)
print(json.dumps({'status': os.waitstatus_to_exitcode(status), 'output': output.decode('utf-8', 'replace')}))
`;

function onTerminal(args: string[], replies: string[]): Promise<{ status: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', PTY_SCRIPT, JSON.stringify(replies), process.execPath, WHARF_MAIN, ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`pty helper failed (${code}): ${stderr}`));
      resolve(JSON.parse(stdout));
    });
  });
}

describe('password prompt on a terminal', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await makeTempDir('wharf-pty-');
    assert.equal((await runWharf(['domain', 'add', 'hamburger.edu', '--data', dataDir])).code, 0);
  });
  after(async () => {
    await removeDir(dataDir);
  });

  it('asks twice with echo off and stores the password', async () => {
    const { status, output } = await onTerminal(['user', 'add', 'bob@hamburger.edu', '--data', dataDir], ['s3cret pw', 's3cret pw']);
    assert.equal(status, 0, output);
    assert.match(output, /New password: /);
    assert.match(output, /Repeat password: /);
    assert.match(output, /added user bob@hamburger\.edu/);
    assert.equal(output.includes('s3cret'), false, `echoed: ${JSON.stringify(output)}`);
    const store = await openStore({ dataDir });
    try {
      assert.equal(await verifyPassword('s3cret pw', (await store.getPasswordHash('bob@hamburger.edu'))!), true);
    } finally {
      await store.close();
    }
  });

  it('refuses when the two entries differ', async () => {
    const { status, output } = await onTerminal(['user', 'passwd', 'bob@hamburger.edu', '--data', dataDir], ['one', 'two']);
    assert.equal(status, 1, output);
    assert.match(output, /wharf: the passwords do not match/);
  });
});
