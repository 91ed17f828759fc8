import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Line } from '../../src/net/line-reader.js';
import {
  authzidAllowed,
  createSaslMechanism,
  decodeBase64,
  decodeClientResponse,
  parsePlainMessage,
  runSaslExchange,
  verifyCredentials,
  type SaslStep,
} from '../../src/net/sasl/index.js';
import type { Authenticator } from '../../src/net/types.js';

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const line = (text: string): Line => ({ bytes: Buffer.from(text, 'latin1'), tooLong: false });
const credentials = (authzid: string, authcid: string, password: string): SaslStep => ({
  kind: 'credentials',
  credentials: { authzid, authcid, password },
});
const failure = (reason: string): SaslStep => ({ kind: 'failure', reason } as SaslStep);

describe('SASL PLAIN message (RFC 4616)', () => {
  const table: Array<[string, Buffer, SaslStep]> = [
    ['no authzid', Buffer.from('\0bob\0hungry'), credentials('', 'bob', 'hungry')],
    ['authzid given', Buffer.from('bob\0bob\0hungry'), credentials('bob', 'bob', 'hungry')],
    ['UTF-8 password', Buffer.from('\0bob\0grüße'), credentials('', 'bob', 'grüße')],
    ['password with spaces', Buffer.from('\0bob\0 two words '), credentials('', 'bob', ' two words ')],
    ['fields of exactly 255 bytes', Buffer.from(`${'a'.repeat(255)}\0${'b'.repeat(255)}\0${'c'.repeat(255)}`), credentials('a'.repeat(255), 'b'.repeat(255), 'c'.repeat(255))],
    ['empty password', Buffer.from('\0bob\0'), failure('empty-password')],
    ['empty authcid', Buffer.from('\0\0hungry'), failure('malformed')],
    ['two fields', Buffer.from('bob\0hungry'), failure('malformed')],
    ['one field', Buffer.from('bobhungry'), failure('malformed')],
    ['four fields', Buffer.from('\0bob\0pw\0x'), failure('malformed')],
    ['empty message', Buffer.alloc(0), failure('malformed')],
    ['invalid UTF-8 in the password', Buffer.concat([Buffer.from('\0bob\0'), Buffer.from([0xc3, 0x28])]), failure('bad-utf8')],
    ['invalid UTF-8 in the authcid', Buffer.concat([Buffer.from('\0'), Buffer.from([0xff]), Buffer.from('\0pw')]), failure('bad-utf8')],
    ['password of 256 bytes', Buffer.from(`\0bob\0${'p'.repeat(256)}`), failure('too-long')],
    ['authcid of 256 bytes', Buffer.from(`\0${'b'.repeat(256)}\0pw`), failure('too-long')],
    ['authzid of 256 bytes', Buffer.from(`${'z'.repeat(256)}\0bob\0pw`), failure('too-long')],
  ];
  for (const [name, message, expected] of table) {
    it(name, () => assert.deepEqual(parsePlainMessage(message), expected));
  }
});

describe('SASL client responses', () => {
  it('accepts strict base64 only', () => {
    assert.deepEqual(decodeBase64('Ym9i'), Buffer.from('bob'));
    assert.deepEqual(decodeBase64('Ym8='), Buffer.from('bo'));
    assert.deepEqual(decodeBase64('Yg=='), Buffer.from('b'));
    assert.deepEqual(decodeBase64(''), Buffer.alloc(0));
    for (const bad of ['abc', 'a===', '!!!!', 'YWJj ZA==', 'Ym9i\n', 'Yg', 'Yg=', '=', 'Y===', 'Ym9i====', 'Ym-_', 'Yg==Yg==']) {
      assert.equal(decodeBase64(bad), null, JSON.stringify(bad));
    }
  });

  it('reads "*" as cancel and the empty initial response as the protocol spells it', () => {
    assert.deepEqual(decodeClientResponse('*', true, '='), { kind: 'cancel' });
    assert.deepEqual(decodeClientResponse('*', false, '='), { kind: 'cancel' });
    assert.deepEqual(decodeClientResponse('=', true, '='), { kind: 'data', data: Buffer.alloc(0) });
    // "=" is only the empty initial response; answering a challenge, empty is an empty line.
    assert.deepEqual(decodeClientResponse('=', false, '='), { kind: 'invalid' });
    assert.deepEqual(decodeClientResponse('', false, '='), { kind: 'data', data: Buffer.alloc(0) });
    assert.deepEqual(decodeClientResponse('', true, '='), { kind: 'invalid' });
  });
});

describe('SASL exchange', () => {
  /** Answers challenges from a script and records them. */
  function scripted(answers: Array<string | null>) {
    const challenges: string[] = [];
    return {
      challenges,
      channel: {
        async challenge(text: string) {
          challenges.push(text);
          const next = answers.shift();
          return next === null || next === undefined ? null : line(next);
        },
      },
    };
  }
  const plain = () => createSaslMechanism('plain', ['PLAIN', 'LOGIN'])!;
  const login = () => createSaslMechanism('LOGIN', ['PLAIN', 'LOGIN'])!;

  it('PLAIN with an initial response needs no challenge', async () => {
    const s = scripted([]);
    const outcome = await runSaslExchange(plain(), b64('\0bob\0hungry'), s.channel);
    assert.deepEqual(outcome, { ok: true, credentials: { authzid: '', authcid: 'bob', password: 'hungry' } });
    assert.deepEqual(s.challenges, []);
  });

  it('PLAIN without an initial response sends an empty challenge', async () => {
    const s = scripted([b64('\0bob\0hungry')]);
    const outcome = await runSaslExchange(plain(), undefined, s.channel);
    assert.equal(outcome.ok, true);
    assert.deepEqual(s.challenges, ['']);
  });

  it('refuses what PLAIN must refuse, whatever the protocol', async () => {
    const cases: Array<[string | undefined, Array<string | null>, string]> = [
      ['*', [], 'cancelled'],
      [undefined, ['*'], 'cancelled'],
      ['=', [], 'malformed'],
      ['not*base64', [], 'bad-base64'],
      [undefined, ['Ym9i ='], 'bad-base64'],
      [b64('\0bob\0'), [], 'empty-password'],
      [b64('bob\0hungry'), [], 'malformed'],
      [undefined, [null], 'ended'],
    ];
    for (const [initial, answers, reason] of cases) {
      const outcome = await runSaslExchange(plain(), initial, scripted(answers).channel);
      assert.deepEqual(outcome, { ok: false, reason }, `${initial} ${JSON.stringify(answers)}`);
    }
  });

  it('reports an over-long response line', async () => {
    const channel = { challenge: async () => ({ bytes: Buffer.alloc(0), tooLong: true }) };
    assert.deepEqual(await runSaslExchange(plain(), undefined, channel), { ok: false, reason: 'too-long' });
  });

  it('LOGIN asks for the name, then the password, and refuses an empty password', async () => {
    const s = scripted([b64('bob'), b64('hungry')]);
    const outcome = await runSaslExchange(login(), undefined, s.channel);
    assert.deepEqual(outcome, { ok: true, credentials: { authzid: '', authcid: 'bob', password: 'hungry' } });
    assert.deepEqual(s.challenges, [b64('Username:'), b64('Password:')]);

    const withInitial = scripted(['']);
    assert.deepEqual(await runSaslExchange(login(), b64('bob'), withInitial.channel), { ok: false, reason: 'empty-password' });
    assert.deepEqual(withInitial.challenges, [b64('Password:')]);
  });

  it('offers only the mechanisms the protocol names', () => {
    assert.equal(createSaslMechanism('LOGIN', ['PLAIN']), null);
    assert.equal(createSaslMechanism('CRAM-MD5', ['PLAIN', 'CRAM-MD5']), null);
    assert.equal(createSaslMechanism('Plain', ['PLAIN'])?.name, 'PLAIN');
  });
});

describe('SASL credentials check', () => {
  const users: Record<string, string> = { 'bob@example.org': 'hungry' };
  const checked: string[] = [];
  const auth: Authenticator = {
    async verify(username, password) {
      checked.push(username);
      const address = username.includes('@') ? username.toLowerCase() : `${username.toLowerCase()}@example.org`;
      return users[address] === password ? { userId: 1, address } : null;
    },
  };

  it('allows an authzid only when it names the user who logs in', () => {
    assert.equal(authzidAllowed('', 'bob', 'bob@example.org'), true);
    assert.equal(authzidAllowed('BOB', 'bob', 'bob@example.org'), true);
    assert.equal(authzidAllowed('bob@example.org', 'bob', 'bob@example.org'), true);
    assert.equal(authzidAllowed('alice', 'bob', 'bob@example.org'), false);
    assert.equal(authzidAllowed('alice@example.org', 'bob@example.org', 'bob@example.org'), false);
  });

  it('verifies the password and the authzid', async () => {
    assert.deepEqual(await verifyCredentials(auth, { authzid: '', authcid: 'bob', password: 'hungry' }, '192.0.2.1'), {
      userId: 1,
      address: 'bob@example.org',
    });
    assert.equal(await verifyCredentials(auth, { authzid: '', authcid: 'bob', password: 'wrong' }, '192.0.2.1'), null);
    assert.equal(await verifyCredentials(auth, { authzid: 'alice', authcid: 'bob', password: 'hungry' }, '192.0.2.1'), null);
  });

  it('never asks the store about an empty password', async () => {
    checked.length = 0;
    assert.equal(await verifyCredentials(auth, { authzid: '', authcid: 'bob', password: '' }, '192.0.2.1'), null);
    assert.deepEqual(checked, []);
  });
});
