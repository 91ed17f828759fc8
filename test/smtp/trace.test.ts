import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressLiteral, formatRfc5322Date, newQueueId, traceHeaders, withProtocol } from '../../src/smtp/trace.js';

describe('trace fields', () => {
  it('names the protocol as RFC 3848 and RFC 6531 say', () => {
    const p = { esmtp: true, tls: false, authenticated: false, smtputf8: false };
    assert.equal(withProtocol({ ...p, esmtp: false, tls: true }), 'SMTP');
    assert.equal(withProtocol(p), 'ESMTP');
    assert.equal(withProtocol({ ...p, tls: true }), 'ESMTPS');
    assert.equal(withProtocol({ ...p, authenticated: true }), 'ESMTPA');
    assert.equal(withProtocol({ ...p, tls: true, authenticated: true }), 'ESMTPSA');
    assert.equal(withProtocol({ ...p, smtputf8: true, tls: true }), 'UTF8SMTPS');
  });

  it('writes IP address literals, IPv6 tagged', () => {
    assert.equal(addressLiteral('192.0.2.1'), '[192.0.2.1]');
    assert.equal(addressLiteral('2001:db8::1'), '[IPv6:2001:db8::1]');
  });

  it('formats an RFC 5322 date with the local offset', () => {
    const d = new Date(2025, 2, 1, 14, 3, 9);
    assert.match(formatRfc5322Date(d), /^Sat, 1 Mar 2025 14:03:09 [+-]\d{4}$/);
  });

  it('makes distinct 12-character queue ids', () => {
    const ids = new Set(Array.from({ length: 1000 }, newQueueId));
    assert.equal(ids.size, 1000);
    for (const id of ids) assert.match(id, /^[A-Z2-7]{12}$/);
  });

  it('puts Return-Path and a folded Received field first, without letting HELO break the field', () => {
    const text = traceHeaders({
      mailFrom: 'alice@crepes.fr',
      helo: 'evil (x)\u0007',
      clientIp: '192.0.2.1',
      hostname: 'hamburger.edu',
      protocol: { esmtp: true, tls: false, authenticated: false, smtputf8: false },
      queueId: 'ABCDEFGHJKLM',
      recipients: ['bob@hamburger.edu'],
      date: new Date(2025, 2, 1, 14, 3, 9),
    }).toString();
    assert.match(
      text,
      /^Return-Path: <alice@crepes\.fr>\r\nReceived: from evil \?x\?\? \(\[192\.0\.2\.1\]\)\r\n\tby hamburger\.edu \(Wharf\) with ESMTP id ABCDEFGHJKLM\r\n\tfor <bob@hamburger\.edu>; Sat, 1 Mar 2025 14:03:09 [+-]\d{4}\r\n$/,
    );
  });
});
