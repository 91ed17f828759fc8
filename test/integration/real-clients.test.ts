/**
 * Clients nobody on this project wrote: Python's smtplib/poplib and curl. They check that
 * Wharf speaks the protocols the way widely used implementations expect, TLS included.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';
import { addBob, BOB_PASSWORD, run } from './setup.js';

/** Sends three messages three ways, then reads and deletes them over POP3 and POP3S. */
const PYTHON_SCRIPT = String.raw`
import json, poplib, smtplib, ssl, sys
smtp_port, submission_port, submissions_port, pop3_port, pop3s_port = map(int, sys.argv[1:6])
password = sys.stdin.readline().rstrip('\n')
insecure = ssl.create_default_context()
insecure.check_hostname = False
insecure.verify_mode = ssl.CERT_NONE

def message(subject, sender='alice@crepes.fr'):
    return ('From: %s\r\nTo: bob@hamburger.edu\r\nSubject: %s\r\n\r\n'
            'Do you like ketchup?\r\n.How about pickles?\r\n' % (sender, subject))

out = {}
with smtplib.SMTP('127.0.0.1', smtp_port) as s:
    out['mx_refused'] = s.sendmail('alice@crepes.fr', ['bob@hamburger.edu'], message('via mx'))
with smtplib.SMTP('127.0.0.1', submission_port) as s:
    s.starttls(context=insecure)
    s.login('bob@hamburger.edu', password)
    out['submission_refused'] = s.sendmail('bob@hamburger.edu', ['bob@hamburger.edu'], message('via submission', 'bob@hamburger.edu'))
with smtplib.SMTP_SSL('127.0.0.1', submissions_port, context=insecure) as s:
    s.login('bob@hamburger.edu', password)
    out['submissions_refused'] = s.sendmail('bob@hamburger.edu', ['bob@hamburger.edu'], message('via submissions', 'bob@hamburger.edu'))

p = poplib.POP3('127.0.0.1', pop3_port)
p.user('bob')
p.pass_(password)
count, size = p.stat()
out['count'] = count
out['messages'] = []
for i in range(1, count + 1):
    resp, lines, octets = p.retr(i)
    out['messages'].append([l.decode('utf-8', 'replace') for l in lines])
    p.dele(i)
p.quit()

p = poplib.POP3_SSL('127.0.0.1', pop3s_port, context=insecure)
p.user('bob@hamburger.edu')
p.pass_(password)
out['count_after'] = p.stat()[0]
p.quit()
print(json.dumps(out))
`;

describe('real clients', () => {
  let wharf: WharfProcess;

  before(async () => {
    wharf = await startWharf();
    await addBob(wharf);
  });
  after(async () => {
    await wharf.stop();
    await wharf.removeData();
  });

  it('Python smtplib (plain, STARTTLS + AUTH, implicit TLS + AUTH) and poplib (POP3, POP3S)', async () => {
    const p = wharf.ports;
    const ports = [p.smtp, p.submission, p.submissions, p.pop3, p.pop3s].map(String);
    const result = await run('python3', ['-c', PYTHON_SCRIPT, ...ports], { stdin: `${BOB_PASSWORD}\n` });
    assert.equal(result.code, 0, result.stderr);
    const out = JSON.parse(result.stdout) as {
      mx_refused: object;
      submission_refused: object;
      submissions_refused: object;
      count: number;
      messages: string[][];
      count_after: number;
    };
    assert.deepEqual(out.mx_refused, {});
    assert.deepEqual(out.submission_refused, {});
    assert.deepEqual(out.submissions_refused, {});
    assert.equal(out.count, 3);
    const subjects = out.messages.map((m) => m.find((l) => l.startsWith('Subject: ')));
    assert.deepEqual(subjects.sort(), ['Subject: via mx', 'Subject: via submission', 'Subject: via submissions']);
    for (const m of out.messages) {
      assert.ok(m.some((l) => l.startsWith('Received: ')), m.join('\n'));
      // The leading dot survived SMTP dot-stuffing and POP3 byte-stuffing both ways.
      assert.deepEqual(m.slice(-2), ['Do you like ketchup?', '.How about pickles?']);
    }
    assert.equal(out.count_after, 0);
  });

  it('curl sends over smtp:// and fetches and deletes over pop3:// and pop3s://', async () => {
    const message = 'From: alice@crepes.fr\r\nTo: bob@hamburger.edu\r\nSubject: from curl\r\n\r\nDo you like ketchup?\r\n';
    const sent = await run(
      'curl',
      ['-sS', '--url', `smtp://127.0.0.1:${wharf.ports.smtp}/crepes.fr`, '--mail-from', 'alice@crepes.fr', '--mail-rcpt', 'bob@hamburger.edu', '-T', '-'],
      { stdin: message },
    );
    assert.equal(sent.code, 0, sent.stderr);

    const pop3 = `pop3://127.0.0.1:${wharf.ports.pop3}`;
    const auth = ['-u', `bob:${BOB_PASSWORD}`];
    const list = await run('curl', ['-sS', `${pop3}/`, ...auth]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^1 \d+\r?\n$/);

    const retr = await run('curl', ['-sS', `${pop3}/1`, ...auth]);
    assert.equal(retr.code, 0, retr.stderr);
    assert.match(retr.stdout, /^Return-Path: <alice@crepes\.fr>\r\n/);
    assert.ok(retr.stdout.includes('Subject: from curl\r\n'));
    assert.ok(retr.stdout.endsWith('\r\n\r\nDo you like ketchup?\r\n'), JSON.stringify(retr.stdout));

    const dele = await run('curl', ['-sS', `${pop3}/1`, '-X', 'DELE', '-I', ...auth]);
    assert.equal(dele.code, 0, dele.stderr);

    const pop3s = `pop3s://127.0.0.1:${wharf.ports.pop3s}`;
    const empty = await run('curl', ['-sS', '-k', `${pop3s}/`, ...auth]);
    assert.equal(empty.code, 0, empty.stderr);
    // An empty listing: curl prints at most the line break before the terminating dot.
    assert.equal(empty.stdout.trim(), '');
  });
});
