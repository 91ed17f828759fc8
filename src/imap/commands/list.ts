/**
 * LIST (RFC 9051 6.3.9 with LIST-EXTENDED RFC 5258, LIST-STATUS RFC 5819, SPECIAL-USE
 * RFC 6154, CHILDREN RFC 3348) and the rev1 LSUB.
 */
import { ArgCursor } from '../protocol/args.js';
import { matchMailboxPattern, parseList } from '../grammar.js';
import type { ImapSession } from '../session.js';
import type { Mailbox, MailboxRole } from '../../store/types.js';
import { canonicalName, mailboxToWire } from './mailbox-name.js';
import { statusLine } from './status.js';
import { AUTHENTICATED, argsOf, type CommandSpec } from './types.js';

const ROLE_ATTRIBUTE: Record<MailboxRole, string | null> = {
  inbox: null,
  sent: '\\Sent',
  drafts: '\\Drafts',
  trash: '\\Trash',
  junk: '\\Junk',
  archive: '\\Archive',
};

interface Node {
  name: string;
  mailbox: Mailbox | null;
  hasChildren: boolean;
  subscribed: boolean;
}

/** Every existing mailbox and every name above one (a parent that does not exist itself). */
function buildTree(mailboxes: Mailbox[], subscriptions: string[]): Map<string, Node> {
  const nodes = new Map<string, Node>();
  const subscribed = new Set(subscriptions);
  const node = (name: string): Node => {
    let n = nodes.get(name);
    if (!n) {
      n = { name, mailbox: null, hasChildren: false, subscribed: subscribed.has(name) };
      nodes.set(name, n);
    }
    return n;
  };
  const addWithParents = (name: string) => {
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) node(parts.slice(0, i).join('/')).hasChildren = true;
    return node(name);
  };
  for (const m of mailboxes) addWithParents(m.name).mailbox = m;
  for (const name of subscriptions) addWithParents(name);
  return nodes;
}

function fullPattern(reference: string, pattern: string): string {
  if (reference === '' || pattern.startsWith('/')) return canonicalName(pattern);
  return canonicalName(reference.endsWith('/') ? reference + pattern : `${reference}/${pattern}`.replace(/\/\/+/g, '/'));
}

export const list: CommandSpec = {
  states: AUTHENTICATED,
  async run(s, c) {
    const request = parseList(argsOf(c), s.utf8);
    if (request.patterns.length === 1 && request.patterns[0] === '' && request.selection.length === 0) {
      // RFC 9051 6.3.9: the hierarchy delimiter and root.
      s.out.untagged('LIST (\\Noselect) "/" ""');
      return;
    }
    const userId = s.user!.id;
    const [mailboxes, subscriptions] = await Promise.all([s.store.listMailboxes(userId), s.store.listSubscriptions(userId)]);
    const tree = buildTree(mailboxes, subscriptions);
    const onlySubscribed = request.selection.includes('SUBSCRIBED');
    const onlySpecialUse = request.selection.includes('SPECIAL-USE');
    const showSubscribed = onlySubscribed || request.returnSubscribed;
    const patterns = request.patterns.map((p) => fullPattern(request.reference, p));
    const names = [...tree.keys()].sort((a, b) => (a === 'INBOX' ? -1 : b === 'INBOX' ? 1 : a < b ? -1 : a > b ? 1 : 0));
    for (const name of names) {
      const n = tree.get(name)!;
      if (!patterns.some((p) => matchMailboxPattern(p, name))) continue;
      if (onlySubscribed && !n.subscribed) continue;
      if (!onlySubscribed && !n.mailbox && !n.hasChildren) continue;
      const role = n.mailbox?.role ? ROLE_ATTRIBUTE[n.mailbox.role] : null;
      if (onlySpecialUse && !role) continue;
      const attrs: string[] = [];
      if (!n.mailbox) attrs.push(s.rev2 || request.selection.length > 0 ? '\\NonExistent' : '\\Noselect');
      attrs.push(n.hasChildren ? '\\HasChildren' : '\\HasNoChildren');
      if (showSubscribed && n.subscribed) attrs.push('\\Subscribed');
      if (role) attrs.push(role);
      s.out.untagged(`LIST (${attrs.join(' ')}) "/" ${mailboxToWire(s, name)}`);
      if (request.returnStatus && n.mailbox) {
        s.out.untagged(await statusLine(s, n.mailbox, request.returnStatus));
      }
    }
  },
};

/** LSUB (RFC 3501 6.3.9): subscribed names; a parent of subscribed names shows as \Noselect. */
export const lsub: CommandSpec = {
  states: AUTHENTICATED,
  async run(s, c) {
    const args = new ArgCursor(argsOf(c), 'LSUB');
    const reference = args.astring('reference');
    const pattern = args.astring('pattern');
    args.end();
    const subscriptions = await s.store.listSubscriptions(s.user!.id);
    const full = fullPattern(reference, pattern);
    const shown = new Set<string>();
    for (const name of subscriptions.sort()) {
      if (matchMailboxPattern(full, name)) {
        s.out.untagged(`LSUB () "/" ${mailboxToWire(s, name)}`);
        shown.add(name);
        continue;
      }
      // With %, a subscribed child makes its unsubscribed parent appear as \Noselect.
      const parts = name.split('/');
      for (let i = parts.length - 1; i >= 1; i--) {
        const parent = parts.slice(0, i).join('/');
        if (!shown.has(parent) && !subscriptions.includes(parent) && matchMailboxPattern(full, parent)) {
          s.out.untagged(`LSUB (\\Noselect) "/" ${mailboxToWire(s, parent)}`);
          shown.add(parent);
        }
      }
    }
  },
};
