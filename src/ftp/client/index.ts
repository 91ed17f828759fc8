/** Wharf's FTP/FTPS client: see session.ts (login) and transfer.ts (data connections). */
export { FtpSession, type FtpConnectOptions, type FtpTlsMode } from './session.js';
export { retrieve, store, listEntries, listLines, runTransfer } from './transfer.js';
export { FtpClientError } from './errors.js';
export { replyText, type FtpReply } from './reply.js';
export type { ListEntry } from './listing.js';
export type { Trace, TraceDirection } from './control.js';
