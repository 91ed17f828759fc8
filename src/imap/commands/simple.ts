/** CAPABILITY, NOOP, CHECK, LOGOUT, ID, NAMESPACE: commands with no state of their own. */
import { ArgCursor } from '../protocol/args.js';
import { formatString } from '../grammar.js';
import { ANY, AUTHENTICATED, SELECTED, argsOf, type CommandSpec } from './types.js';

export const capability: CommandSpec = {
  states: ANY,
  async run(s, c) {
    new ArgCursor(argsOf(c), 'CAPABILITY').end();
    s.out.untagged(`CAPABILITY ${s.capabilityList().join(' ')}`);
  },
};

/** NOOP polls: the session announces pending updates before the tagged OK. */
export const noop: CommandSpec = {
  states: ANY,
  async run(s, c) {
    new ArgCursor(argsOf(c), 'NOOP').end();
    await s.view?.refresh(true);
  },
};

/**
 * CHECK (RFC 3501 6.4.1): a checkpoint of the selected mailbox. IMAP4rev2 dropped it, but rev1
 * clients (mbsync among them) still send it; every change here is durable when its command
 * completes, so it is a NOOP, and like NOOP it reports pending updates.
 */
export const check: CommandSpec = {
  states: SELECTED,
  async run(s, c) {
    new ArgCursor(argsOf(c), 'CHECK').end();
    await s.view?.refresh(true);
  },
};

export const logout: CommandSpec = {
  states: ANY,
  async run(s, c) {
    new ArgCursor(argsOf(c), 'LOGOUT').end();
    s.out.untagged('BYE Wharf IMAP server logging out');
    s.logoutAfterReply = true;
  },
};

/** ID (RFC 2971): we say who we are; what the client says is only logged. */
export const id: CommandSpec = {
  states: ANY,
  async run(s, c) {
    const args = new ArgCursor(argsOf(c), 'ID');
    const t = args.next('parameter list or NIL');
    args.end();
    if (t.kind === 'list') {
      const fields: Record<string, string> = {};
      for (let i = 0; i + 1 < t.items.length && i < 60; i += 2) {
        const k = t.items[i]!;
        const v = t.items[i + 1]!;
        if (k.kind !== 'list' && v.kind !== 'list') {
          const key = (k.kind === 'atom' ? k.value : k.value.toString('utf8')).slice(0, 30);
          fields[key] = (v.kind === 'atom' ? v.value : v.value.toString('utf8')).slice(0, 100);
        }
      }
      s.log.info('client id', { client: fields });
    }
    s.out.untagged(`ID (${formatString('name')} ${formatString('Wharf')} ${formatString('vendor')} ${formatString('Wharf')})`);
  },
};

/** One personal namespace, no prefix, '/' as the separator (RFC 2342). */
export const namespace: CommandSpec = {
  states: AUTHENTICATED,
  async run(s, c) {
    new ArgCursor(argsOf(c), 'NAMESPACE').end();
    s.out.untagged('NAMESPACE (("" "/")) NIL NIL');
  },
};
