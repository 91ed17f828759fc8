/**
 * Whose mail a logged-in user may submit (RFC 6409 4.1, 6.1): the envelope sender and the
 * author fields (RFC 5322 3.6.2) must be addresses of the user, or aliases that deliver to them.
 */
import { parseAddressList } from '../../mime/envelope.js';
import { StoreError, type AccountStore } from '../../store/types.js';
import { MessageRefused } from '../message-sink.js';
import { formatReply } from '../reply.js';
import type { SubmittedHeader } from './header-rewriter.js';

export interface SubmittingUser {
  userId: number;
  address: string;
}

/** More author addresses than this are not looked up one by one; such a From is refused. */
const MAX_FROM_ADDRESSES = 100;

const NO_FROM = formatReply(554, '5.6.0 Message must have a From: header');
const DUPLICATE_FIELD = (name: string) => formatReply(554, `5.6.0 Message must not have more than one ${name}: header`);
export const FROM_NOT_OWNED = formatReply(553, '5.7.1 From: header must be one of your addresses');
const SENDER_REQUIRED = formatReply(553, '5.7.1 Sender: header required when From: has several addresses');
const SENDER_NOT_OWNED = formatReply(553, '5.7.1 Sender: header must be one of your addresses');

/**
 * Whether the user may send as `address`: their own address, or one that the store delivers
 * to them (an alias, or a catch-all pointing at them). An address the store cannot even parse
 * is nobody's; other store failures are thrown (they are no answer).
 */
export async function ownsAddress(store: AccountStore, user: SubmittingUser, address: string): Promise<boolean> {
  if (address.toLowerCase() === user.address.toLowerCase()) return true;
  try {
    const resolved = await store.resolveRecipient(address);
    return resolved.kind === 'local' && resolved.users.some((u) => u.id === user.userId);
  } catch (err) {
    if (err instanceof StoreError && err.code === 'invalid') return false;
    throw err;
  }
}

/**
 * The addresses of an address list, or null when any element is not a plain address
 * (a group, or something without a local part or domain): such a field cannot be checked.
 */
function plainAddresses(value: string): string[] | null {
  const out: string[] = [];
  for (const a of parseAddressList(value)) {
    if (a.mailbox === null || a.host === null || a.mailbox === 'MISSING_MAILBOX') return null;
    if (a.host === 'MISSING_DOMAIN' || a.host === 'SYNTAX_ERROR') return null;
    out.push(`${a.mailbox}@${a.host}`);
  }
  return out;
}

/**
 * Checks From and Sender against the user; resolves with the From address the message is
 * sent as (the first of the user's: its domain signs the message), or throws MessageRefused.
 * From must hold one of the user's addresses; with several authors, Sender names the one who
 * actually sent it (RFC 5322 3.6.2) and must be the user's. A Sender is checked whenever given.
 */
export async function checkAuthorFields(store: AccountStore, user: SubmittingUser, header: SubmittedHeader): Promise<string> {
  if (header.from.length === 0) throw new MessageRefused(NO_FROM);
  if (header.from.length > 1) throw new MessageRefused(DUPLICATE_FIELD('From'));
  if (header.sender.length > 1) throw new MessageRefused(DUPLICATE_FIELD('Sender'));
  const authors = plainAddresses(header.from[0]);
  if (!authors || authors.length === 0 || authors.length > MAX_FROM_ADDRESSES) throw new MessageRefused(FROM_NOT_OWNED);
  let own: string | null = null;
  for (const a of authors) {
    if (await ownsAddress(store, user, a)) {
      own = a;
      break;
    }
  }
  if (own === null) throw new MessageRefused(FROM_NOT_OWNED);
  if (header.sender.length === 0) {
    if (authors.length > 1) throw new MessageRefused(SENDER_REQUIRED);
    return own;
  }
  const sender = plainAddresses(header.sender[0]);
  if (!sender || sender.length !== 1 || !(await ownsAddress(store, user, sender[0]))) throw new MessageRefused(SENDER_NOT_OWNED);
  return own;
}
