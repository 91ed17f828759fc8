/** The FTP engine's pure parts: command lines, TYPE A conversion, listings, times. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CrlfToLf, lfToCrlf } from '../../src/ftp/ascii.js';
import { parseCommandLine, quotePath } from '../../src/ftp/command-line.js';
import { COMMAND_SYNTAX } from '../../src/ftp/commands/help.js';
import { commandTable } from '../../src/ftp/commands/index.js';
import { globMatches, listingTarget } from '../../src/ftp/commands/listings.js';
import { ALL_MLST_FACTS, ftpTime, listLine, mlstFacts, parseFtpTime } from '../../src/ftp/listing.js';

describe('FTP command lines', () => {
  it('upper-cases the keyword and keeps the argument exactly, spaces included', () => {
    assert.deepEqual(parseCommandLine(Buffer.from('stor  two spaces .txt ')), {
      ok: true,
      command: { keyword: 'STOR', argument: ' two spaces .txt ' },
    });
    assert.deepEqual(parseCommandLine(Buffer.from('PWD')), { ok: true, command: { keyword: 'PWD', argument: '' } });
  });

  it('drops Telnet IP/DM bytes a client puts before ABOR', () => {
    const line = Buffer.concat([Buffer.from([0xff, 0xf4, 0xff, 0xf2]), Buffer.from('ABOR')]);
    assert.deepEqual(parseCommandLine(line), { ok: true, command: { keyword: 'ABOR', argument: '' } });
    const stripped = Buffer.concat([Buffer.from([0xff, 0xf4, 0xf2]), Buffer.from('ABOR')]);
    assert.equal(parseCommandLine(stripped).ok, true);
  });

  it('refuses what is no keyword', () => {
    for (const text of ['', ' USER x', 'US', '12345', 'USER\u0000', 'ÜSER x', 'ABCDEFGHI']) {
      assert.equal(parseCommandLine(Buffer.from(text)).ok, false, text);
    }
  });

  it('doubles quotes in 257 paths', () => {
    assert.equal(quotePath('/a "b"'), '"/a ""b"""');
  });
});

describe('TYPE A conversion', () => {
  it('turns CR LF into LF even when a chunk ends between CR and LF', () => {
    const conv = new CrlfToLf();
    const out = Buffer.concat([conv.push(Buffer.from('one\r')), conv.push(Buffer.from('\ntwo\r\nthree\rx\r')), conv.end()]);
    assert.equal(out.toString(), 'one\ntwo\nthree\rx\r');
  });

  it('keeps a CR that a later chunk shows is no line end', () => {
    const conv = new CrlfToLf();
    const out = Buffer.concat([conv.push(Buffer.from('a\r')), conv.push(Buffer.from('b')), conv.end()]);
    assert.equal(out.toString(), 'a\rb');
  });

  it('turns every LF into CR LF for downloads', () => {
    assert.equal(lfToCrlf(Buffer.from('a\nb\n\nc')).toString(), 'a\r\nb\r\n\r\nc');
    const plain = Buffer.from('no line end');
    assert.equal(lfToCrlf(plain), plain);
  });
});

describe('listings', () => {
  const modified = new Date(Date.UTC(2026, 11, 2, 5, 30, 7));
  const file = { name: 'report.txt', type: 'file' as const, size: 1234, modified, mode: 0o644 };
  const folder = { name: 'docs', type: 'directory' as const, size: 0, modified, mode: 0o755 };

  it('writes ls -l lines (time for recent files, year for old ones)', () => {
    const now = modified.getTime() + 1000;
    assert.equal(listLine(file, 'report.txt', now), '-rw-r--r--    1 ftp      ftp              1234 Dec 02 05:30 report.txt');
    assert.match(listLine(folder, 'docs', now), /^drwxr-xr-x +2 ftp +ftp +4096 Dec 02 05:30 docs$/);
    assert.match(listLine(file, 'old', now + 365 * 24 * 3600 * 1000), / Dec 02  2026 old$/);
  });

  it('writes MLSx facts, read-only where the anonymous area is', () => {
    const selected = ALL_MLST_FACTS;
    assert.equal(mlstFacts(file, { readOnly: false, selected }), 'type=file;size=1234;modify=20261202053007;perm=adfrw;unix.mode=0644;');
    assert.equal(mlstFacts(folder, { readOnly: true, selected, role: 'cdir' }), 'type=cdir;modify=20261202053007;perm=el;unix.mode=0755;');
  });

  it('writes only the facts selected, in their usual order, and nothing for none', () => {
    assert.equal(mlstFacts(file, { readOnly: false, selected: new Set(['size', 'type'] as const) }), 'type=file;size=1234;');
    assert.equal(mlstFacts(folder, { readOnly: false, selected: new Set(['size'] as const) }), '', 'a folder has no size');
    assert.equal(mlstFacts(file, { readOnly: false, selected: new Set() }), '');
  });

  it('reads and writes MDTM/MFMT times in UTC', () => {
    assert.equal(ftpTime(modified), '20261202053007');
    assert.equal(parseFtpTime('20261202053007')?.getTime(), modified.getTime());
    assert.equal(parseFtpTime('20261202053007.5')?.getTime(), modified.getTime() + 500);
    assert.equal(parseFtpTime('20260230000000'), null);
    assert.equal(parseFtpTime('2026'), null);
  });

  it('drops ls options from LIST arguments', () => {
    assert.equal(listingTarget('-la'), '');
    assert.equal(listingTarget('-l -a docs/x y'), 'docs/x y');
    assert.equal(listingTarget('docs'), 'docs');
  });
});

describe('HELP', () => {
  it('names exactly the commands the command table has', () => {
    assert.deepEqual(Object.keys(COMMAND_SYNTAX).sort(), [...commandTable.keys()].sort());
  });
});

describe('globMatches', () => {
  it('matches "*" to any run of characters and "?" to one, by code point', () => {
    assert.equal(globMatches('*.txt', 'a.txt'), true);
    assert.equal(globMatches('*.txt', '.txt'), true);
    assert.equal(globMatches('*.txt', 'a.txt.bak'), false);
    assert.equal(globMatches('a?c', 'abc'), true);
    assert.equal(globMatches('a?c', 'ac'), false);
    assert.equal(globMatches('a?c', 'a😀c'), true);
    assert.equal(globMatches('*', ''), true);
    assert.equal(globMatches('a*b*c', 'axxbyyc'), true);
    assert.equal(globMatches('a*b*c', 'axxbyy'), false);
    assert.equal(globMatches('[ab].txt', 'a.txt'), false, 'brackets are plain characters');
    assert.equal(globMatches('*.TXT', 'a.txt'), false, 'case counts');
  });

  it('answers a pattern built to make a backtracking matcher explode, at once', () => {
    const started = Date.now();
    assert.equal(globMatches('*a'.repeat(120) + 'b', 'a'.repeat(255)), false);
    assert.ok(Date.now() - started < 1000);
  });
});
