/** The command table: name (UID forms included) → handler and the states it is valid in. */
import { append } from './append.js';
import { copy, move, uidCopy, uidMove } from './copy.js';
import { enable } from './enable.js';
import { close, expunge, uidExpunge, unselect } from './expunge.js';
import { fetchCommand, uidFetch } from './fetch.js';
import { idle } from './idle.js';
import { list, lsub } from './list.js';
import { authenticate, login, starttls } from './login.js';
import { create, del, rename, subscribe, unsubscribe } from './manage.js';
import { getQuota, getQuotaRoot, setQuota } from './quota.js';
import { searchCommand, sortCommand, threadCommand, uidSearch, uidSort, uidThread } from './search.js';
import { examine, select } from './select.js';
import { capability, check, id, logout, namespace, noop } from './simple.js';
import { status } from './status.js';
import { storeCommand, uidStore } from './store.js';
import type { CommandSpec } from './types.js';

export type { CommandSpec } from './types.js';

export const COMMANDS: ReadonlyMap<string, CommandSpec> = new Map<string, CommandSpec>([
  ['CAPABILITY', capability],
  ['NOOP', noop],
  ['CHECK', check],
  ['LOGOUT', logout],
  ['ID', id],
  ['STARTTLS', starttls],
  ['LOGIN', login],
  ['AUTHENTICATE', authenticate],
  ['ENABLE', enable],
  ['NAMESPACE', namespace],
  ['SELECT', select],
  ['EXAMINE', examine],
  ['CREATE', create],
  ['DELETE', del],
  ['RENAME', rename],
  ['SUBSCRIBE', subscribe],
  ['UNSUBSCRIBE', unsubscribe],
  ['LIST', list],
  ['LSUB', lsub],
  ['STATUS', status],
  ['APPEND', append],
  ['IDLE', idle],
  ['GETQUOTAROOT', getQuotaRoot],
  ['GETQUOTA', getQuota],
  ['SETQUOTA', setQuota],
  ['CLOSE', close],
  ['UNSELECT', unselect],
  ['EXPUNGE', expunge],
  ['SEARCH', searchCommand],
  ['FETCH', fetchCommand],
  ['STORE', storeCommand],
  ['COPY', copy],
  ['MOVE', move],
  ['SORT', sortCommand],
  ['THREAD', threadCommand],
  ['UID FETCH', uidFetch],
  ['UID STORE', uidStore],
  ['UID SEARCH', uidSearch],
  ['UID COPY', uidCopy],
  ['UID MOVE', uidMove],
  ['UID EXPUNGE', uidExpunge],
  ['UID SORT', uidSort],
  ['UID THREAD', uidThread],
]);
