/** Real SMTP clients against the MX service: Python smtplib, curl and nodemailer. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { DOMAIN, run, runPython, splitTrace, startServer, type TestServer } from './harness.js';

const SMTPLIB_SEND = `
import json, smtplib, ssl, sys
from email.message import EmailMessage
port, starttls, rcpts = int(sys.argv[1]), sys.argv[2] == '1', sys.argv[3].split(',')
msg = EmailMessage()
msg['From'] = 'alice@crepes.fr'
msg['To'] = ', '.join(rcpts)
msg['Subject'] = 'Hello from smtplib'
msg['Message-ID'] = '<smtplib-%s@crepes.fr>' % sys.argv[4]
msg.set_content('Do you like ketchup?\\n.leading dot\\nHow about pickles?\\n')
with smtplib.SMTP('127.0.0.1', port, local_hostname='crepes.fr', timeout=10) as s:
    s.ehlo()
    before = sorted(s.esmtp_features.keys())
    tls = False
    if starttls:
        s.starttls(context=ssl._create_unverified_context())
        s.ehlo()
        tls = True
    after = sorted(s.esmtp_features.keys())
    refused = s.send_message(msg)
    code, text = s.noop()
refused = {k: [v[0], v[1].decode()] for k, v in refused.items()}
print(json.dumps({'before': before, 'after': after, 'refused': refused, 'noop': code,
                  'size': s.esmtp_features.get('size'), 'tls': tls}))
`;

describe('real clients on the MX service', () => {
  let server: TestServer;
  let tmp: string;

  before(async () => {
    server = await startServer({ users: [`bob@${DOMAIN}`, `carol@${DOMAIN}`] });
    tmp = await mkdtemp(path.join(os.tmpdir(), 'wharf-smtp-clients-'));
  });
  after(async () => {
    await server.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it('python smtplib: EHLO features and send_message to one recipient', async () => {
    const out = (await runPython(SMTPLIB_SEND, [String(server.port), '0', `bob@${DOMAIN}`, 'one'])) as {
      before: string[];
      refused: object;
      noop: number;
      size: string;
    };
    assert.deepEqual(out.before, [
      '8bitmime',
      'binarymime',
      'chunking',
      'enhancedstatuscodes',
      'pipelining',
      'size',
      'smtputf8',
      'starttls',
    ]);
    assert.equal(out.size, String(server.ctx.config.smtp.maxMessageBytes));
    assert.deepEqual(out.refused, {});
    assert.equal(out.noop, 250);
    const entries = await server.inbox(`bob@${DOMAIN}`);
    const stored = await server.body(entries.at(-1)!.messageId);
    const { returnPath, rest } = splitTrace(stored);
    assert.equal(returnPath, 'alice@crepes.fr');
    const text = rest.toString();
    assert.match(text, /^Subject: Hello from smtplib\r\n/m);
    // smtplib dot-stuffs the leading dot; the stored message has it once.
    assert.match(text, /\r\n\r\nDo you like ketchup\?\r\n\.leading dot\r\nHow about pickles\?\r\n$/);
    const msg = await server.store.getMessage(entries.at(-1)!.messageId);
    assert.equal(msg?.headers.messageId, '<smtplib-one@crepes.fr>');
  });

  it('python smtplib: STARTTLS, then several recipients share one stored message', async () => {
    const out = (await runPython(SMTPLIB_SEND, [String(server.port), '1', `bob@${DOMAIN},carol@${DOMAIN}`, 'two'])) as {
      after: string[];
      refused: object;
      tls: boolean;
    };
    assert.equal(out.tls, true);
    assert.ok(!out.after.includes('starttls'), 'STARTTLS not offered again over TLS');
    assert.deepEqual(out.refused, {});
    const bob = (await server.inbox(`bob@${DOMAIN}`)).at(-1)!;
    const carol = (await server.inbox(`carol@${DOMAIN}`)).at(-1)!;
    assert.equal(bob.messageId, carol.messageId);
    const { received } = splitTrace(await server.body(bob.messageId));
    assert.match(received, /with ESMTPS id/);
  });

  it('python smtplib: a refused recipient is reported, the others get the message', async () => {
    const out = (await runPython(SMTPLIB_SEND, [String(server.port), '0', `bob@${DOMAIN},nobody@${DOMAIN}`, 'three'])) as {
      refused: Record<string, [number, string]>;
    };
    assert.deepEqual(Object.keys(out.refused), [`nobody@${DOMAIN}`]);
    assert.equal(out.refused[`nobody@${DOMAIN}`][0], 550);
    const msg = await server.store.getMessage((await server.inbox(`bob@${DOMAIN}`)).at(-1)!.messageId);
    assert.equal(msg?.headers.messageId, '<smtplib-three@crepes.fr>');
  });

  it('curl: plain and with STARTTLS (--ssl-reqd)', async () => {
    const file = path.join(tmp, 'mail.txt');
    const content = 'From: alice@crepes.fr\r\nTo: bob@hamburger.edu\r\nSubject: curl\r\n\r\nline one\r\n.dot line\r\n';
    await writeFile(file, content);
    for (const tlsArgs of [[], ['--ssl-reqd', '-k']]) {
      const before = (await server.inbox(`bob@${DOMAIN}`)).length;
      const r = await run('curl', [
        '-sS',
        `smtp://127.0.0.1:${server.port}/crepes.fr`,
        ...tlsArgs,
        '--mail-from',
        'alice@crepes.fr',
        '--mail-rcpt',
        `bob@${DOMAIN}`,
        '-T',
        file,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const entries = await server.inbox(`bob@${DOMAIN}`);
      assert.equal(entries.length, before + 1);
      const { rest, received } = splitTrace(await server.body(entries.at(-1)!.messageId));
      assert.equal(rest.toString(), content);
      assert.match(received, tlsArgs.length ? /with ESMTPS id/ : /with ESMTP id/);
    }
  });

  it('curl: an unknown recipient fails the transfer', async () => {
    const file = path.join(tmp, 'mail2.txt');
    await writeFile(file, 'Subject: x\r\n\r\ny\r\n');
    const r = await run('curl', [
      '-sS',
      `smtp://127.0.0.1:${server.port}`,
      '--mail-from',
      'alice@crepes.fr',
      '--mail-rcpt',
      `nobody@${DOMAIN}`,
      '-T',
      file,
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /550/);
  });

  it('nodemailer: pipelined send to several recipients, with STARTTLS', async () => {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: server.port,
      secure: false,
      name: 'crepes.fr',
      tls: { rejectUnauthorized: false },
    });
    const info = await transport.sendMail({
      from: 'alice@crepes.fr',
      to: [`bob@${DOMAIN}`, `carol@${DOMAIN}`],
      subject: 'nodemailer',
      text: 'Hello\n.\nBye\n',
      messageId: '<nm@crepes.fr>',
    });
    transport.close();
    assert.deepEqual(info.accepted.sort(), [`bob@${DOMAIN}`, `carol@${DOMAIN}`]);
    assert.match(info.response, /^250 2\.0\.0 Ok: queued as [A-Z2-7]{12}$/);
    const bob = (await server.inbox(`bob@${DOMAIN}`)).at(-1)!;
    const carol = (await server.inbox(`carol@${DOMAIN}`)).at(-1)!;
    assert.equal(bob.messageId, carol.messageId);
    const msg = await server.store.getMessage(bob.messageId);
    assert.equal(msg?.headers.subject, 'nodemailer');
    const { rest, received } = splitTrace(await server.body(bob.messageId));
    assert.match(rest.toString(), /\r\n\r\nHello\r\n\.\r\nBye\r\n$/);
    assert.match(received, /with ESMTPS id/);
  });

  it('nodemailer: many messages over one pooled connection', async () => {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: server.port,
      secure: false,
      ignoreTLS: true,
      pool: true,
      maxConnections: 1,
    });
    const before = (await server.inbox(`carol@${DOMAIN}`)).length;
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        transport.sendMail({ from: 'alice@crepes.fr', to: `carol@${DOMAIN}`, subject: `n${i}`, text: 'x'.repeat(10_000) }),
      ),
    );
    transport.close();
    assert.equal((await server.inbox(`carol@${DOMAIN}`)).length, before + 10);
  });
});
