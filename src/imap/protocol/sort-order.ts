/** SORT's ordering (RFC 5256 section 3, DISPLAYFROM/DISPLAYTO of RFC 5957). */
import { baseSubject, casemap, compareCodePoints } from './base-subject.js';
import type { SortCommand } from './types.js';

/** What SORT compares, extracted by the caller from the message. */
export interface SortableMessage {
  seq: number;
  /** Internal date, ms since the epoch. */
  arrival: number;
  /** The Date header as an instant (see sentTime), or null: then the internal date is used. */
  sentDate: number | null;
  size: number;
  /** The decoded Subject (the base subject is extracted here). */
  subject: string;
  /** addr-mailbox (local part) of the first From / To / Cc address; '' if none. */
  from: string;
  to: string;
  cc: string;
  /** Display name of the first From / To address, else its addr-spec; '' if none (RFC 5957). */
  displayFrom: string;
  displayTo: string;
}

type Criteria = SortCommand['criteria'];

/** The fields compared as text, casemapped once per message before sorting. */
const TEXT_FIELDS = ['subject', 'from', 'to', 'cc', 'displayFrom', 'displayTo'] as const;
type TextField = (typeof TEXT_FIELDS)[number];

interface Keyed {
  message: SortableMessage;
  text: Record<TextField, string>;
}

/** The messages in SORT order; ties fall back to sequence-number order, never reversed. */
export function sortByCriteria<T extends SortableMessage>(messages: readonly T[], criteria: Criteria): T[] {
  const keyed: Keyed[] = messages.map((message) => {
    const text = {} as Record<TextField, string>;
    for (const field of TEXT_FIELDS) text[field] = casemap(message[field]);
    text.subject = casemap(baseSubject(message.subject).subject);
    return { message, text };
  });
  keyed.sort((a, b) => {
    for (const { key, reverse } of criteria) {
      const order = compareBy(key, a, b);
      if (order !== 0) return reverse ? -order : order;
    }
    return a.message.seq - b.message.seq;
  });
  return keyed.map((k) => k.message as T);
}

const TEXT_KEYS: Readonly<Record<string, TextField>> = {
  SUBJECT: 'subject',
  FROM: 'from',
  TO: 'to',
  CC: 'cc',
  DISPLAYFROM: 'displayFrom',
  DISPLAYTO: 'displayTo',
};

function compareBy(key: Criteria[number]['key'], a: Keyed, b: Keyed): number {
  switch (key) {
    case 'ARRIVAL':
      return a.message.arrival - b.message.arrival;
    case 'DATE':
      return (a.message.sentDate ?? a.message.arrival) - (b.message.sentDate ?? b.message.arrival);
    case 'SIZE':
      return a.message.size - b.message.size;
    default: {
      const field = TEXT_KEYS[key];
      return compareCodePoints(a.text[field], b.text[field]);
    }
  }
}
