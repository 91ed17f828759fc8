/** `wharf user key add` reads authorized_keys lines: what it accepts and what it refuses. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { parsePublicKeyLines } from '../../src/cli/user-key.js';
import { sshFingerprint } from '../../src/sftp/host-keys.js';

const ed = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'bob@laptop' });
const ec = ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256, comment: 'bob@phone' });

describe('authorized_keys lines for wharf user key add', () => {
  it('reads keys with comments, options, blank lines and # comments', () => {
    const [type, blob] = ed.public.trim().split(' ');
    const text = `# my keys\n\n${ed.public.trim()}\nno-pty,from="10.0.0.1 x" ${ec.public.trim()}\r\n`;
    const keys = parsePublicKeyLines(text);
    assert.equal(keys.length, 2);
    assert.equal(keys[0].algorithm, type);
    assert.equal(keys[0].comment, 'bob@laptop');
    assert.ok(keys[0].publicKey.equals(Buffer.from(blob, 'base64')));
    assert.equal(keys[0].fingerprint, sshFingerprint(Buffer.from(blob, 'base64')));
    assert.equal(keys[1].algorithm, 'ecdsa-sha2-nistp256');
    assert.equal(keys[1].comment, 'bob@phone');
  });

  it('refuses a private key, a line that is no key, and empty input', () => {
    assert.throws(() => parsePublicKeyLines(ed.private), /private key/);
    assert.throws(() => parsePublicKeyLines(`${ed.public.trim()}\nssh-ed25519 notbase64!!\n`), /line 2 is not an SSH public key/);
    assert.throws(() => parsePublicKeyLines('\n# nothing\n'), /no public key/);
  });
});
