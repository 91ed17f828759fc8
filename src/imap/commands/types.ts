import type { ReadResult } from '../protocol/command-reader.js';
import type { ImapSession, ImapState } from '../session.js';

/** A command as read: a normal one (arguments tokenized) or APPEND (message literals streamed). */
export type Command = Exclude<ReadResult, { kind: 'bad' }>;

/** What a command's tagged OK says, when it says more than "<NAME> completed". */
export interface Done {
  text?: string;
  code?: string;
  /** The command sent its tagged reply itself (STARTTLS must, before the handshake). */
  silent?: boolean;
}

export interface CommandSpec {
  /** States the command is valid in (RFC 9051 6.1-6.4). */
  states: ImapState[];
  run(session: ImapSession, command: Command): Promise<Done | void>;
  /**
   * False for FETCH, STORE, SEARCH (and their UID forms): EXPUNGE responses must not be sent
   * while they complete (RFC 9051 7.5.1), since the client's sequence numbers would shift.
   */
  expungeSafe?: boolean;
}

/** Arguments of a normal command; APPEND is the only streamed one. */
export function argsOf(command: Command) {
  if (command.kind !== 'command') throw new Error('not a tokenized command');
  return command.args;
}

export const ANY: ImapState[] = ['not-authenticated', 'authenticated', 'selected'];
export const NOT_AUTHENTICATED: ImapState[] = ['not-authenticated'];
export const AUTHENTICATED: ImapState[] = ['authenticated', 'selected'];
export const SELECTED: ImapState[] = ['selected'];
