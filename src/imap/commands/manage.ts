/** CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE (RFC 9051 6.3.4-6.3.8). */
import { ArgCursor } from '../protocol/args.js';
import { ImapNo } from '../errors.js';
import { StoreError } from '../../store/types.js';
import { mailboxFromWire, requireMailbox } from './mailbox-name.js';
import { AUTHENTICATED, argsOf, type CommandSpec } from './types.js';

const USE_ATTRIBUTES: Record<string, 'sent' | 'drafts' | 'trash' | 'junk' | 'archive'> = {
  '\\SENT': 'sent',
  '\\DRAFTS': 'drafts',
  '\\TRASH': 'trash',
  '\\JUNK': 'junk',
  '\\ARCHIVE': 'archive',
};

function storeFailure(err: unknown): never {
  if (err instanceof StoreError) {
    if (err.code === 'conflict') throw new ImapNo('Mailbox already exists', 'ALREADYEXISTS');
    if (err.code === 'not-found') throw new ImapNo('Mailbox does not exist', 'NONEXISTENT');
    if (err.code === 'invalid') throw new ImapNo(err.message, 'CANNOT');
    if (err.code === 'quota') throw new ImapNo('Quota exceeded', 'OVERQUOTA');
  }
  throw err;
}

/** CREATE also creates missing parents (RFC 9051 6.3.4), and takes USE (RFC 6154 5). */
export const create: CommandSpec = {
  states: AUTHENTICATED,
  async run(s, c) {
    const args = new ArgCursor(argsOf(c), 'CREATE');
    const name = mailboxFromWire(s, args.astring('mailbox'));
    let role: (typeof USE_ATTRIBUTES)[string] | null = null;
    if (args.remaining > 0) {
      const params = args.list('create parameters');
      if (params.length !== 2 || params[0]!.kind !== 'atom' || params[0]!.value.toUpperCase() !== 'USE' || params[1]!.kind !== 'list') {
        throw new ImapNo('Unsupported CREATE parameter', 'CANNOT');
      }
      for (const u of params[1]!.items) {
        const use = u.kind === 'atom' ? USE_ATTRIBUTES[u.value.toUpperCase()] : undefined;
        if (!use) throw new ImapNo('Unsupported special use', 'USEATTR');
        role = use;
      }
    }
    args.end();
    if (name === 'INBOX') throw new ImapNo('INBOX always exists', 'ALREADYEXISTS');
    const userId = s.user!.id;
    if (await s.store.getMailbox(userId, name)) throw new ImapNo('Mailbox already exists', 'ALREADYEXISTS');
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if (!(await s.store.getMailbox(userId, parent))) await s.store.createMailbox(userId, parent).catch(storeFailure);
    }
    await s.store.createMailbox(userId, name, role).catch(storeFailure);
    await s.store.setSubscribed(userId, name, true).catch(() => undefined);
  },
};

export const del: CommandSpec = {
  states: AUTHENTICATED,
  async run(s, c) {
    const args = new ArgCursor(argsOf(c), 'DELETE');
    const name = mailboxFromWire(s, args.astring('mailbox'));
    args.end();
    if (name === 'INBOX') throw new ImapNo('INBOX cannot be deleted', 'CANNOT');
    const mailbox = await requireMailbox(s, name);
    if (s.view?.mailbox.id === mailbox.id) s.deselect();
    await s.store.deleteMailbox(mailbox.id).catch(storeFailure);
  },
};

export const rename: CommandSpec = {
  states: AUTHENTICATED,
  async run(s, c) {
    const args = new ArgCursor(argsOf(c), 'RENAME');
    const from = mailboxFromWire(s, args.astring('existing mailbox'));
    const to = mailboxFromWire(s, args.astring('new mailbox'));
    args.end();
    if (to === 'INBOX') throw new ImapNo('Cannot rename to INBOX', 'ALREADYEXISTS');
    await requireMailbox(s, from);
    if (await s.store.getMailbox(s.user!.id, to)) throw new ImapNo('Mailbox already exists', 'ALREADYEXISTS');
    const parts = to.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if (parent !== from && !(await s.store.getMailbox(s.user!.id, parent))) {
        await s.store.createMailbox(s.user!.id, parent).catch(storeFailure);
      }
    }
    await s.store.renameMailbox(s.user!.id, from, to).catch(storeFailure);
  },
};

export const subscribe: CommandSpec = {
  states: AUTHENTICATED,
  async run(s, c) {
    const args = new ArgCursor(argsOf(c), 'SUBSCRIBE');
    const name = mailboxFromWire(s, args.astring('mailbox'));
    args.end();
    await s.store.setSubscribed(s.user!.id, name, true);
  },
};

export const unsubscribe: CommandSpec = {
  states: AUTHENTICATED,
  async run(s, c) {
    const args = new ArgCursor(argsOf(c), 'UNSUBSCRIBE');
    const name = mailboxFromWire(s, args.astring('mailbox'));
    args.end();
    await s.store.setSubscribed(s.user!.id, name, false);
  },
};
