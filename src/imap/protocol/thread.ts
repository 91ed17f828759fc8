/**
 * THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256 sections 4 and 5) over the searched
 * messages, and the thread-list response format. The input is in mailbox order, which breaks
 * ties between equal (or unparsable) sent dates.
 */
import { baseSubject, casemap, compareCodePoints } from './base-subject.js';
import type { ThreadNode } from './types.js';

export interface ThreadMessage {
  /** What the response shows: the UID or the message number. */
  id: number;
  /** Raw header values, or null when absent. */
  messageId: string | null;
  inReplyTo: string | null;
  references: string | null;
  /** The decoded Subject. */
  subject: string;
  /** The sent date as an instant (see sentTime), or null when missing or unparsable. */
  date: number | null;
}

interface Container {
  message: ThreadMessage | null;
  /** Position in mailbox order; for dummies, where they were first referenced. */
  order: number;
  parent: Container | null;
  children: Container[];
}

const MSG_ID = /<[^<>]+>/g;

function msgIds(value: string | null): string[] {
  return value?.match(MSG_ID) ?? [];
}

/** Earlier sent date first; equal or unknown dates keep mailbox order (RFC 5256 section 4). */
function compareByDate(a: { date: number | null; order: number }, b: { date: number | null; order: number }): number {
  if (a.date !== null && b.date !== null && a.date !== b.date) return a.date - b.date;
  return a.order - b.order;
}

/** ORDEREDSUBJECT: one thread per base subject, the first message the parent of the rest. */
export function threadOrderedSubject(messages: readonly ThreadMessage[]): ThreadNode[] {
  const groups = new Map<string, Array<{ message: ThreadMessage; date: number | null; order: number }>>();
  messages.forEach((message, order) => {
    const key = casemap(baseSubject(message.subject).subject);
    let group = groups.get(key);
    if (!group) groups.set(key, (group = []));
    group.push({ message, date: message.date, order });
  });
  const threads = [...groups.values()].map((group) => group.sort(compareByDate));
  threads.sort((a, b) => compareByDate(a[0], b[0]));
  return threads.map(([first, ...rest]) => ({
    id: first.message.id,
    children: rest.map((r) => ({ id: r.message.id, children: [] })),
  }));
}

/** REFERENCES: threads from Message-ID/References/In-Reply-To, then grouped by subject. */
export function threadReferences(messages: readonly ThreadMessage[]): ThreadNode[] {
  const all: Container[] = [];
  const byId = new Map<string, Container>();
  const container = (message: ThreadMessage | null, order: number): Container => {
    const c: Container = { message, order, parent: null, children: [] };
    all.push(c);
    return c;
  };

  // (1) Link messages to their references.
  messages.forEach((message, order) => {
    const id = msgIds(message.messageId)[0];
    let own = id === undefined ? undefined : byId.get(id);
    if (own && own.message === null) {
      own.message = message;
      own.order = order;
    } else {
      // No Message-ID, or a duplicate one: the message gets a container of its own.
      const fresh = container(message, order);
      if (id !== undefined && !own) byId.set(id, fresh);
      own = fresh;
    }
    let refs = msgIds(message.references);
    if (refs.length === 0) refs = msgIds(message.inReplyTo).slice(0, 1);
    let previous: Container | null = null;
    for (const ref of refs) {
      let c = byId.get(ref);
      if (!c) {
        c = container(null, order);
        byId.set(ref, c);
      }
      if (previous && c.parent === null && !wouldLoop(previous, c)) link(previous, c);
      previous = c;
    }
    unlink(own);
    if (previous && !wouldLoop(previous, own)) link(previous, own);
  });

  // (2)-(4) The root set, without empty dummies.
  let roots = prune(all.filter((c) => c.parent === null), true);
  // (5) Threads whose roots share a base subject are merged.
  roots = groupBySubject(roots);
  // (6) Siblings by sent date, children before parents so a dummy can use its first child.
  sortSiblings(roots);
  return roots.map(toNode);
}

function link(parent: Container, child: Container): void {
  child.parent = parent;
  parent.children.push(child);
}

function unlink(child: Container): void {
  const parent = child.parent;
  if (!parent) return;
  parent.children.splice(parent.children.indexOf(child), 1);
  child.parent = null;
}

/** True when making `child` a child of `parent` would create a loop. */
function wouldLoop(parent: Container, child: Container): boolean {
  for (let c: Container | null = parent; c; c = c.parent) if (c === child) return true;
  return false;
}

/**
 * Drops dummies without children and splices the children of other dummies into their place;
 * at the top level only a dummy with a single child gives way.
 */
function prune(list: Container[], topLevel: boolean): Container[] {
  const out: Container[] = [];
  for (const c of list) {
    c.children = prune(c.children, false);
    if (c.message === null && (c.children.length === 0 || !topLevel || c.children.length === 1)) {
      for (const child of c.children) {
        child.parent = c.parent;
        out.push(child);
      }
      continue;
    }
    out.push(c);
  }
  return out;
}

interface SubjectInfo {
  key: string;
  reply: boolean;
}

function subjectOf(c: Container): SubjectInfo {
  const message = c.message ?? (c.children[0].message as ThreadMessage);
  const base = baseSubject(message.subject);
  return { key: casemap(base.subject), reply: c.message !== null && base.isReplyOrForward };
}

function groupBySubject(roots: Container[]): Container[] {
  const table = new Map<string, Container>();
  const info = new Map<Container, SubjectInfo>();
  for (const c of roots) {
    const s = subjectOf(c);
    info.set(c, s);
    if (s.key === '') continue;
    const held = table.get(s.key);
    if (!held || (held.message !== null && (c.message === null || (infoOf(info, held).reply && !s.reply)))) table.set(s.key, c);
  }
  const emptied = new Set<Container>();
  /** A root that became a child of a new dummy, and that dummy (which takes its place). */
  const replaced = new Map<Container, Container>();
  for (const c of roots) {
    // Skip roots already merged into another thread.
    if (c.parent !== null || emptied.has(c)) continue;
    const s = infoOf(info, c);
    if (s.key === '') continue;
    const held = table.get(s.key) as Container;
    if (held === c) continue;
    const heldReply = infoOf(info, held).reply;
    if (held.message === null && c.message === null) {
      for (const child of c.children) link(held, child);
      c.children = [];
      emptied.add(c);
    } else if (held.message === null || (!heldReply && s.reply && c.message !== null)) {
      link(held, c);
    } else if (c.message === null || (heldReply && !s.reply)) {
      link(c, held);
      table.set(s.key, c);
    } else {
      // Both replies, or neither: siblings under a new dummy, not parent and child.
      const dummy: Container = { message: null, order: held.order, parent: null, children: [] };
      replaced.set(held, dummy);
      link(dummy, held);
      link(dummy, c);
      table.set(s.key, dummy);
      info.set(dummy, { key: s.key, reply: false });
    }
  }
  return roots.map((r) => replaced.get(r) ?? r).filter((r) => r.parent === null && !emptied.has(r));
}

function infoOf(info: Map<Container, SubjectInfo>, c: Container): SubjectInfo {
  return info.get(c) as SubjectInfo;
}

function sortKey(c: Container): { date: number | null; order: number } {
  const m = c.message ?? c.children[0]?.message ?? null;
  const order = c.message ? c.order : (c.children[0]?.order ?? c.order);
  return { date: m?.date ?? null, order };
}

function sortSiblings(list: Container[]): void {
  for (const c of list) sortSiblings(c.children);
  list.sort((a, b) => compareByDate(sortKey(a), sortKey(b)));
}

function toNode(c: Container): ThreadNode {
  return { id: c.message?.id ?? null, children: c.children.map(toNode) };
}

/** The THREAD response data: "(1 2)(3 (4)(5))"; a dummy parent shows only its children. */
export function formatThreads(threads: readonly ThreadNode[]): string {
  return threads.map((t) => `(${members(t)})`).join('');
}

function members(node: ThreadNode): string {
  const parts: string[] = [];
  // A chain of single children is written flat: "1 2 3".
  let n: ThreadNode = node;
  for (;;) {
    if (n.id !== null) parts.push(String(n.id));
    if (n.children.length !== 1) break;
    n = n.children[0];
  }
  if (n.children.length > 1) parts.push(n.children.map((c) => `(${members(c)})`).join(''));
  return parts.join(' ');
}
