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

interface Keyed {
  message: SortableMessage;
  subject: string;
  from: string;
  to: string;
  cc: string;
  displayFrom: string;
  displayTo: string;
}

/** The messages in SORT order; ties fall back to sequence-number order, never reversed. */
export function sortMessages<T extends SortableMessage>(messages: readonly T[], criteria: Criteria): T[] {
  const keyed: Keyed[] = messages.map((message) => ({
    message,
    subject: casemap(baseSubject(message.subject).subject),
    from: casemap(message.from),
    to: casemap(message.to),
    cc: casemap(message.cc),
    displayFrom: casemap(message.displayFrom),
    displayTo: casemap(message.displayTo),
  }));
  keyed.sort((a, b) => {
    for (const { key, reverse } of criteria) {
      const order = compareBy(key, a, b);
      if (order !== 0) return reverse ? -order : order;
    }
    return a.message.seq - b.message.seq;
  });
  return keyed.map((k) => k.message as T);
}

function compareBy(key: Criteria[number]['key'], a: Keyed, b: Keyed): number {
  switch (key) {
    case 'ARRIVAL':
      return a.message.arrival - b.message.arrival;
    case 'DATE':
      return (a.message.sentDate ?? a.message.arrival) - (b.message.sentDate ?? b.message.arrival);
    case 'SIZE':
      return a.message.size - b.message.size;
    case 'SUBJECT':
      return compareCodePoints(a.subject, b.subject);
    case 'FROM':
      return compareCodePoints(a.from, b.from);
    case 'TO':
      return compareCodePoints(a.to, b.to);
    case 'CC':
      return compareCodePoints(a.cc, b.cc);
    case 'DISPLAYFROM':
      return compareCodePoints(a.displayFrom, b.displayFrom);
    case 'DISPLAYTO':
      return compareCodePoints(a.displayTo, b.displayTo);
  }
}
