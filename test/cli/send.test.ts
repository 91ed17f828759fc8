/**
 * `wharf send` end to end: the command, run as a user would, submits to a Wharf submission
 * server over STARTTLS (or implicit TLS) with AUTH; the stored message is checked in the
 * recipients' mailboxes (multipart/mixed, base64 attachment, no Bcc field) and read back with
 * Python's email package. The password never shows: not in --verbose, not echoed at a prompt.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTempDir, removeDir, runWharf, WHARF_MAIN } from '../helpers/cli.js';
import { testTls } from '../helpers/service.js';
import { runProgram } from '../helpers/process.js';
import { DOMAIN, splitTrace, startServer, type TestServer } from '../smtp/harness.js';

const ALICE = `alice@${DOMAIN}`;
const BOB = `bob@${DOMAIN}`;
const CAROL = `carol@${DOMAIN}`;
const DAVE = `dave@${DOMAIN}`;
const PASSWORD = 'correct horse battery';

const PY_READ = String.raw`
import email, email.policy, hashlib, json, sys
msg = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=email.policy.default)
parts = []
for p in msg.walk():
    if p.is_multipart():
        continue
    data = p.get_payload(decode=True)
    parts.append({'type': p.get_content_type(), 'filename': p.get_filename(), 'cte': p.get('Content-Transfer-Encoding'),
                  'sha256': hashlib.sha256(data).hexdigest(), 'text': p.get_content() if p.get_content_maintype() == 'text' else None})
print(json.dumps({'type': msg.get_content_type(), 'subject': str(msg['subject']), 'from': str(msg['from']), 'to': str(msg['to']),
                  'cc': str(msg['cc']), 'bcc': msg['bcc'], 'defects': [str(d) for p in msg.walk() for d in p.defects], 'parts': parts}))
`;

describe('wharf send', () => {
  let server: TestServer;
  let implicit: TestServer;
  let dir: string;
  let caFile: string;
  let attachment: Buffer;
  let attachmentFile: string;
  let bodyFile: string;

  before(async () => {
    const users = [ALICE, BOB, CAROL, DAVE];
    server = await startServer({ mode: 'submission', users, passwords: { [ALICE]: PASSWORD } });
    implicit = await startServer({ mode: 'submission', users, passwords: { [ALICE]: PASSWORD }, implicitTls: true });
    dir = await makeTempDir('wharf-send-');
    caFile = path.join(dir, 'server.pem');
    await writeFile(caFile, (await testTls()).certPem);
    attachment = randomBytes(150_000);
    attachmentFile = path.join(dir, 'Bericht für Jörg.bin');
    await writeFile(attachmentFile, attachment);
    bodyFile = path.join(dir, 'body.txt');
    await writeFile(bodyFile, 'Hallo Bob,\nanbei der Bericht. Grüße!\n.\n');
  });
  after(async () => {
    await server.close();
    await implicit.close();
    await removeDir(dir);
  });

  const send = (args: string[], stdin: string | undefined = `${PASSWORD}\n`) =>
    runWharf(['send', '--server', `127.0.0.1:${server.port}`, '--ca', caFile, '--ehlo', 'client.example', ...args], { stdin });

  async function lastMessage(address: string): Promise<Buffer> {
    const entries = await server.inbox(address);
    assert.ok(entries.length > 0, `nothing in ${address}'s INBOX`);
    return server.body(entries.at(-1)!.messageId);
  }

  it('submits a message with an attachment to To, Cc and Bcc; the stored copy has no Bcc field', async () => {
    const r = await send([
      '--user', ALICE, '--password-stdin',
      '--from', `Alice Ärger <${ALICE}>`,
      '--to', `Bob <${BOB}>`, '--cc', CAROL, '--bcc', DAVE,
      '--subject', 'Der Bericht — endlich',
      '--body-file', bodyFile,
      '--attach', attachmentFile,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^sent <[^>]+@hamburger\.edu> to 3 of 3 recipients: 250 /);
    assert.equal(r.stderr, '');

    const stored = await lastMessage(BOB);
    const { received, rest } = splitTrace(stored);
    assert.match(received, /with ESMTPSA/, 'submitted over TLS with AUTH');
    assert.ok(!/^Bcc:/im.test(rest.toString('latin1').split('\r\n\r\n')[0]), 'no Bcc field');
    assert.ok(!rest.toString('latin1').includes(DAVE), 'the Bcc address appears nowhere in the message');
    for (const other of [CAROL, DAVE]) assert.deepEqual(splitTrace(await lastMessage(other)).rest, rest, `${other} got the same message`);

    const file = path.join(dir, 'stored.eml');
    await writeFile(file, stored);
    const py = await runProgram('python3', ['-c', PY_READ, file]);
    assert.equal(py.code, 0, py.stderr);
    const msg = JSON.parse(py.stdout);
    assert.deepEqual(msg.defects, []);
    assert.equal(msg.type, 'multipart/mixed');
    assert.equal(msg.subject, 'Der Bericht — endlich');
    assert.equal(msg.from, `Alice Ärger <${ALICE}>`);
    assert.equal(msg.to, `Bob <${BOB}>`);
    assert.equal(msg.cc, CAROL);
    assert.equal(msg.bcc, null);
    assert.equal(msg.parts[0].text, 'Hallo Bob,\nanbei der Bericht. Grüße!\n.\n');
    assert.equal(msg.parts[1].filename, 'Bericht für Jörg.bin');
    assert.equal(msg.parts[1].cte, 'base64');
    assert.equal(msg.parts[1].sha256, createHash('sha256').update(attachment).digest('hex'));
  });

  it('prints the dialogue with --verbose, the AUTH line masked', async () => {
    const r = await send(['--user', ALICE, '--password-stdin', '--to', BOB, '--subject', 'verbose', '--body', 'hi', '--verbose']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stderr.split('\n');
    for (const expected of [/^S: 220 /, /^C: EHLO client\.example$/, /^C: STARTTLS$/, /^\*: TLS started: TLSv1\.[23] .* certificate verified$/, /^C: AUTH PLAIN \*\*\*\*$/, /^S: 235 2\.7\.0 /, /^C: MAIL FROM:<alice@hamburger\.edu> SIZE=\d+$/, /^C: RCPT TO:<bob@hamburger\.edu>$/, /^C: DATA$/, /^S: 250 2\.0\.0 /, /^C: QUIT$/]) {
      assert.ok(lines.some((l) => expected.test(l)), `${expected} in:\n${r.stderr}`);
    }
    for (const secret of [PASSWORD, Buffer.from(`\0${ALICE}\0${PASSWORD}`).toString('base64'), Buffer.from(PASSWORD).toString('base64')]) {
      assert.ok(!r.stderr.includes(secret) && !r.stdout.includes(secret));
    }
    assert.ok(!JSON.stringify(server.logs).includes(PASSWORD));
  });

  it('uses implicit TLS with --tls', async () => {
    const r = await runWharf(['send', '--server', `127.0.0.1:${implicit.port}`, '--tls', '--ca', caFile, '--user', ALICE, '--password-stdin', '--to', BOB, '--subject', 'implicit', '--body', 'hi', '--verbose'], { stdin: `${PASSWORD}\n` });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stderr.includes('C: STARTTLS'));
    assert.match(r.stderr, /connected to 127\.0\.0\.1 port \d+ \(TLSv1\.[23] .*certificate verified\)/);
    assert.equal((await implicit.inbox(BOB)).length, 1);
  });

  it('refuses a certificate it cannot verify, unless --insecure', async () => {
    const args = ['send', '--server', `127.0.0.1:${server.port}`, '--user', ALICE, '--password-stdin', '--to', BOB, '--body', 'x'];
    const refused = await runWharf(args, { stdin: `${PASSWORD}\n` });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^wharf: STARTTLS failed: 451 4\.7\.5 127\.0\.0\.1: TLS handshake failed: .*(self-signed|self signed)/m);
    const insecure = await runWharf([...args, '--insecure'], { stdin: `${PASSWORD}\n` });
    assert.equal(insecure.code, 0, insecure.stderr);
  });

  it('reports a wrong password and refused recipients, with exit code 1', async () => {
    const wrong = await send(['--user', ALICE, '--password-stdin', '--to', BOB, '--body', 'x'], 'not-the-password\n');
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^wharf: login refused: 535 5\.7\.8 /m);
    assert.ok(!wrong.stderr.includes('not-the-password'));

    const partly = await send(['--user', ALICE, '--password-stdin', '--to', BOB, '--to', `nobody@${DOMAIN}`, '--body', 'x']);
    assert.equal(partly.code, 1);
    assert.match(partly.stderr, /^wharf: nobody@hamburger\.edu: 550 5\.1\.1 /m);
    assert.match(partly.stdout, /to 1 of 2 recipients/);
  });

  it('never takes a password from the command line, and needs a terminal or --password-stdin', async () => {
    const argv = await send(['--user', ALICE, '--password', PASSWORD, '--to', BOB]);
    assert.equal(argv.code, 2);
    assert.match(argv.stderr, /unknown option '--password'/);
    const noTty = await send(['--user', ALICE, '--to', BOB, '--body', 'x']);
    assert.equal(noTty.code, 2);
    assert.match(noTty.stderr, /no terminal to ask for the password on; pipe it in with --password-stdin/);
    const usage = await send(['--user', ALICE, '--password-stdin', '--to', 'not an address']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--to: invalid address/);
    const missing = await send(['--user', ALICE, '--password-stdin', '--to', BOB, '--attach', path.join(dir, 'no-such-file')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read attachment/);
  });

  it('asks for the password on a terminal without echoing it', async () => {
    // A pseudo-terminal (Python's pty module): wait for the prompt, type, collect the screen.
    const script = String.raw`
import json, os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
out = b''
def more():
    global out
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        return False
    out += chunk
    return len(chunk) > 0
while b'Password for' not in out:
    if not more():
        break
os.write(fd, sys.argv[1].encode() + b'\r')
while more():
    pass
_, status = os.waitpid(pid, 0)
print(json.dumps({'status': os.waitstatus_to_exitcode(status), 'output': out.decode('utf-8', 'replace')}))
`;
    const args = ['send', '--server', `127.0.0.1:${server.port}`, '--ca', caFile, '--user', ALICE, '--to', BOB, '--subject', 'typed', '--body', 'x'];
    const result = await new Promise<{ status: number; output: string }>((resolve, reject) => {
      const child = spawn('python3', ['-c', script, PASSWORD, process.execPath, WHARF_MAIN, ...args]);
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(JSON.parse(stdout)) : reject(new Error(`pty helper failed: ${stderr}`))));
    });
    assert.equal(result.status, 0, result.output);
    assert.match(result.output, /Password for alice@hamburger\.edu: /);
    assert.match(result.output, /sent <[^>]+> to 1 of 1 recipient: 250 /);
    assert.ok(!result.output.includes(PASSWORD), 'the typed password was not echoed');
  });
});
