/** ENABLE (RFC 5161): IMAP4rev2, CONDSTORE, QRESYNC (implies CONDSTORE), UTF8=ACCEPT. */
import { ArgCursor } from '../protocol/args.js';
import type { Enableable } from '../session.js';
import { AUTHENTICATED, argsOf, type CommandSpec } from './types.js';

const KNOWN = new Set<string>(['IMAP4REV2', 'CONDSTORE', 'QRESYNC', 'UTF8=ACCEPT']);

export const enable: CommandSpec = {
  states: AUTHENTICATED,
  async run(s, c) {
    const args = new ArgCursor(argsOf(c), 'ENABLE');
    if (args.remaining === 0) args.atom('capability');
    const newly: string[] = [];
    while (args.remaining > 0) {
      const cap = args.atom('capability').toUpperCase();
      if (!KNOWN.has(cap) || s.enabled.has(cap as Enableable)) continue;
      s.enabled.add(cap as Enableable);
      newly.push(cap === 'IMAP4REV2' ? 'IMAP4rev2' : cap);
      if (cap === 'QRESYNC' && !s.enabled.has('CONDSTORE')) s.enabled.add('CONDSTORE');
      if (cap === 'CONDSTORE' || cap === 'QRESYNC') s.condstoreActive = true;
    }
    s.out.untagged(newly.length > 0 ? `ENABLED ${newly.join(' ')}` : 'ENABLED');
  },
};
