/**
 * The grammar functions the commands use, from the protocol layer, under one roof so each
 * command file imports its parsers from one place.
 */
export { parseSequenceSet } from './protocol/sequence-set.js';
export { parseFetch } from './protocol/fetch.js';
export { parseSearch } from './protocol/search.js';
export { evaluateSearch, type SearchContext } from './protocol/evaluate.js';
export { parseStore } from './protocol/store-args.js';
export { parseList } from './protocol/list.js';
export { parseSelect } from './protocol/select.js';
export { parseStatusItems } from './protocol/status.js';
export { parseSort, parseThread, sortMessages, threadMessages, formatThreads } from './protocol/sort-thread.js';
export { decodeMailboxName, encodeMailboxName, validateMailboxName, matchMailboxPattern } from './protocol/mailbox-name.js';
export { formatAstring, formatString, formatNString, formatDateTime, parseDateTime } from './protocol/encode.js';
