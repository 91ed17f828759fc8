/**
 * The command table: verb → handler. A handler gets the session and the text after the verb,
 * replies through the session, and returns when the next command may be read.
 */
import type { SmtpSession } from '../session.js';
import { auth } from './auth.js';
import { bdat } from './bdat.js';
import { data } from './data.js';
import { ehlo, helo } from './ehlo.js';
import { mail } from './mail.js';
import { rcpt } from './rcpt.js';
import { expn, help, noop, quit, rset, vrfy } from './simple.js';
import { starttls } from './starttls.js';

export type CommandHandler = (session: SmtpSession, argument: string) => void | Promise<void>;

export const COMMANDS: ReadonlyMap<string, CommandHandler> = new Map<string, CommandHandler>([
  ['EHLO', ehlo],
  ['HELO', helo],
  ['MAIL', mail],
  ['RCPT', rcpt],
  ['DATA', data],
  ['BDAT', bdat],
  ['RSET', rset],
  ['NOOP', noop],
  ['QUIT', quit],
  ['VRFY', vrfy],
  ['EXPN', expn],
  ['HELP', help],
  ['STARTTLS', starttls],
  ['AUTH', auth],
]);
