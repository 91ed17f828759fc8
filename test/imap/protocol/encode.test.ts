import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatAstring,
  formatNString,
  formatString,
  formatStringBytes,
  formatFlagList,
  quotedDateTime,
} from '../../../src/imap/protocol/encode.js';
import { calendarDay, formatDateTime, parseDateTime, parseDateTimeWithZone, parseSearchDate, sentDay, sentTime } from '../../../src/imap/protocol/date-time.js';
import { ImapSyntaxError } from '../../../src/imap/protocol/types.js';

describe('response strings', () => {
  const astrings: Array<[string, boolean, string]> = [
    ['INBOX', false, 'INBOX'],
    ['a]b', false, 'a]b'],
    ['NIL', false, '"NIL"'],
    ['', false, '""'],
    ['two words', false, '"two words"'],
    ['say "hi" \\o/', false, '"say \\"hi\\" \\\\o/"'],
    ['a*', false, '"a*"'],
    ['(x)', false, '"(x)"'],
    ['tab\there', false, '"tab\there"'],
    ['été', false, '{5}\r\nété'],
    ['été', true, '"été"'],
    ['line\r\nbreak', true, '{11}\r\nline\r\nbreak'],
    ['bell\x07', true, '{5}\r\nbell\x07'],
    ['x'.repeat(5000), false, 'x'.repeat(5000)],
    [' '.repeat(4096), false, `"${' '.repeat(4096)}"`],
    [' '.repeat(4097), false, `{4097}\r\n${' '.repeat(4097)}`],
  ];
  for (const [value, utf8, wire] of astrings) {
    it(`astring ${JSON.stringify(value.slice(0, 20))} (${value.length})${utf8 ? ' (UTF-8)' : ''} is ${JSON.stringify(wire.slice(0, 24))}`, () => {
      assert.equal(formatAstring(value, utf8), wire);
    });
  }

  it('strings are never atoms; nstrings may be NIL', () => {
    assert.equal(formatString('INBOX', false), '"INBOX"');
    assert.equal(formatNString(null, false), 'NIL');
    assert.equal(formatNString('NIL', false), '"NIL"');
  });

  it('bytes: quoted, or an exact literal for 8-bit without UTF-8 or invalid UTF-8', () => {
    assert.equal(formatStringBytes(Buffer.from('plain'), false).toString(), '"plain"');
    assert.deepEqual(formatStringBytes(Buffer.from([0x61, 0xe9]), false), Buffer.from([...Buffer.from('{2}\r\n'), 0x61, 0xe9]));
    assert.deepEqual(formatStringBytes(Buffer.from([0x61, 0xe9]), true), Buffer.from([...Buffer.from('{2}\r\n'), 0x61, 0xe9]));
    assert.equal(formatStringBytes(Buffer.from('été'), true).toString(), '"été"');
    assert.equal(formatStringBytes(Buffer.from('a\nb'), true).toString(), '{3}\r\na\nb');
    assert.equal(formatStringBytes(Buffer.alloc(5000, 0x61), true).subarray(0, 8).toString(), '{5000}\r\n');
  });

  it('flag lists and date-times', () => {
    assert.equal(formatFlagList(['\\Seen', '$Forwarded']), '(\\Seen $Forwarded)');
    assert.equal(formatFlagList([]), '()');
    const d = new Date(Date.UTC(2020, 0, 1, 10, 0, 0));
    assert.equal(formatDateTime(d), '01-Jan-2020 10:00:00 +0000');
    assert.equal(formatDateTime(d, -330), '01-Jan-2020 04:30:00 -0530');
    assert.equal(formatDateTime(d, 600), '01-Jan-2020 20:00:00 +1000');
    assert.equal(quotedDateTime(d), '"01-Jan-2020 10:00:00 +0000"');
  });
});

describe('IMAP dates', () => {
  it('parses date-time in its zone', () => {
    const dt = parseDateTimeWithZone(' 1-Feb-2024 23:30:00 -0800');
    assert.equal(dt.date.toISOString(), '2024-02-02T07:30:00.000Z');
    assert.equal(dt.offsetMinutes, -480);
    assert.equal(formatDateTime(dt.date, dt.offsetMinutes), '01-Feb-2024 23:30:00 -0800');
    assert.equal(parseDateTime('29-feb-2024 00:00:00 +0000')?.toISOString(), '2024-02-29T00:00:00.000Z');
  });
  const badDateTimes = ['30-Feb-2024 00:00:00 +0000', '01-Foo-2024 00:00:00 +0000', '01-Jan-2024 24:00:00 +0000', '01-Jan-2024 00:00 +0000', '01-Jan-2024 00:00:00 0000', ''];
  for (const text of badDateTimes) {
    it(`refuses date-time ${JSON.stringify(text)}`, () => {
      assert.throws(() => parseDateTimeWithZone(text), ImapSyntaxError);
      assert.equal(parseDateTime(text), null);
    });
  }

  it('parses search dates', () => {
    assert.equal(parseSearchDate('1-Feb-2024'), '2024-02-01');
    assert.equal(parseSearchDate('31-dec-1999'), '1999-12-31');
    for (const bad of ['31-Apr-2024', '1-Feb-24', '2024-02-01', '001-Feb-2024', '1 Feb 2024']) {
      assert.throws(() => parseSearchDate(bad), ImapSyntaxError, bad);
    }
  });

  it('takes the sent day as written, ignoring time and zone', () => {
    assert.equal(sentDay('Mon, 1 Jan 2024 23:30:00 -0800'), '2024-01-01');
    assert.equal(sentDay('2 Jan 99 01:00 +1400'), '1999-01-02');
    assert.equal(sentDay('Tue, 3 Jan 24 (comment)'), '2024-01-03');
    assert.equal(sentDay('not a date'), null);
    assert.equal(sentDay('31 Feb 2024 00:00 +0000'), null);
    assert.equal(sentTime('Mon, 1 Jan 2024 23:30:00 -0800'), Date.UTC(2024, 0, 2, 7, 30));
    assert.equal(sentTime('1 Jan 2024 12:00 EST'), Date.UTC(2024, 0, 1, 17, 0));
    assert.equal(calendarDay(new Date(Date.UTC(2024, 0, 1, 23, 0)), 120), '2024-01-02');
  });
});
