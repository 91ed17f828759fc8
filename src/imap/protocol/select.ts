/** SELECT/EXAMINE arguments: the mailbox and CONDSTORE / QRESYNC parameters (RFC 7162 3.1.8, 3.2.5). */
import { ArgCursor, parseNumber } from './args.js';
import { mailboxFromToken } from './mailbox-name.js';
import { parseSequenceSet } from './sequence-set.js';
import { ImapSyntaxError, type SelectCommand, type SequenceSet, type Token } from './types.js';

export function parseSelect(args: Token[], utf8: boolean): SelectCommand {
  const c = new ArgCursor(args, 'SELECT');
  const command: SelectCommand = { mailbox: mailboxFromToken(c.next('mailbox'), utf8), condstore: false };
  if (!c.atEnd) {
    const params = new ArgCursor(c.list('parameters'), 'SELECT parameters');
    while (!params.atEnd) {
      const name = params.atom('parameter').toUpperCase();
      if (name === 'CONDSTORE' && !command.condstore) command.condstore = true;
      else if (name === 'QRESYNC' && !command.qresync) command.qresync = parseQresync(params.list('QRESYNC'));
      else throw new ImapSyntaxError(`SELECT: invalid parameter ${name.slice(0, 30)}`);
    }
  }
  c.end();
  return command;
}

/** "(" uidvalidity SP mod-sequence-value [SP known-uids] [SP seq-match-data] ")". */
function parseQresync(tokens: Token[]): NonNullable<SelectCommand['qresync']> {
  const c = new ArgCursor(tokens, 'QRESYNC');
  const uidValidity = parseNumber(c.atom('UIDVALIDITY'), 'QRESYNC UIDVALIDITY', true);
  if (uidValidity > 0xffffffff) throw new ImapSyntaxError('QRESYNC: UIDVALIDITY out of range');
  const qresync: NonNullable<SelectCommand['qresync']> = { uidValidity, modseq: c.number('mod-sequence') };
  if (c.peek()?.kind === 'atom') qresync.knownUids = knownSet(c.atom('known UIDs'));
  if (!c.atEnd) {
    const match = new ArgCursor(c.list('sequence match data'), 'QRESYNC');
    qresync.seqMatch = { seqs: knownSet(match.atom('known sequence set')), uids: knownSet(match.atom('known UID set')) };
    match.end();
  }
  c.end();
  return qresync;
}

/** A sequence set of known numbers: '*' and '$' are not allowed (RFC 7162 section 7). */
function knownSet(text: string): SequenceSet {
  if (text.includes('*') || text === '$') throw new ImapSyntaxError('QRESYNC: * is not allowed here');
  return parseSequenceSet(text);
}
