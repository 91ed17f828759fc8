/**
 * The shapes the IMAP command reader and grammar hand to the session and its commands.
 * Everything here is protocol data only: no store, no socket.
 */

/** One argument token of a command line (RFC 9051 section 4 data formats). */
export type Token =
  /** An atom (also NIL, numbers, flags like \Seen, and section specs like BODY[1.MIME]<0.10>). */
  | { kind: 'atom'; value: string }
  /** A quoted string or a literal ({n}, {n+}, {n-}; `binary` for literal8 ~{n}). */
  | { kind: 'string'; value: Buffer; literal: boolean; binary?: boolean }
  /** A parenthesised list. */
  | { kind: 'list'; items: Token[] };

/** A syntax error in a command: the session answers `tag BAD <message>`. */
export class ImapSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImapSyntaxError';
  }
}

/** A sequence set: ranges of message numbers or UIDs; '*' is the largest in use. */
export type SequenceSet =
  | { kind: 'ranges'; ranges: Array<{ from: number | '*'; to: number | '*' }> }
  /** `$`: the result saved by SEARCH RETURN (SAVE) (RFC 5182). */
  | { kind: 'saved' };

/** A body section specifier: BODY[<part>.<text>] (RFC 9051 6.4.5). */
export interface Section {
  /** Part numbers, e.g. [1, 2] for "1.2"; empty for the whole message. */
  part: number[];
  text?: 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'TEXT' | 'MIME';
  /** Upper-cased field names for HEADER.FIELDS(.NOT). */
  fields?: string[];
}

export interface Partial {
  offset: number;
  length: number;
}

export type FetchItem =
  | { kind: 'FLAGS' }
  | { kind: 'INTERNALDATE' }
  | { kind: 'RFC822.SIZE' }
  | { kind: 'ENVELOPE' }
  | { kind: 'BODYSTRUCTURE' }
  /** BODY without a section: the non-extensible BODYSTRUCTURE. */
  | { kind: 'BODY' }
  | { kind: 'UID' }
  | { kind: 'MODSEQ' }
  | { kind: 'RFC822' }
  | { kind: 'RFC822.HEADER' }
  | { kind: 'RFC822.TEXT' }
  /** BODY[section]<partial> and BODY.PEEK[...]. */
  | { kind: 'BODY[]'; peek: boolean; section: Section; partial?: Partial }
  /** BINARY[part]<partial> and BINARY.PEEK[...] (RFC 3516). */
  | { kind: 'BINARY'; peek: boolean; part: number[]; partial?: Partial }
  | { kind: 'BINARY.SIZE'; part: number[] };

export interface FetchCommand {
  set: SequenceSet;
  /** Macros (ALL, FAST, FULL) are expanded. */
  items: FetchItem[];
  /** CHANGEDSINCE (RFC 7162 3.1.4). */
  changedSince?: number;
  /** VANISHED (RFC 7162 3.2.6), only valid with UID FETCH and CHANGEDSINCE. */
  vanished?: boolean;
}

export type SearchKey =
  | { op: 'all' }
  | { op: 'and'; keys: SearchKey[] }
  | { op: 'or'; left: SearchKey; right: SearchKey }
  | { op: 'not'; key: SearchKey }
  | { op: 'seq'; set: SequenceSet }
  | { op: 'uid'; set: SequenceSet }
  /** Flag present (SEEN, ANSWERED, ..., KEYWORD x) or absent (UNSEEN, ..., UNKEYWORD x). */
  | { op: 'flag'; flag: string; present: boolean }
  /** NEW = RECENT UNSEEN; OLD = NOT RECENT; RECENT. */
  | { op: 'recent'; present: boolean }
  /** FROM/TO/CC/BCC/SUBJECT are HEADER with that field name. Field name lower-cased. */
  | { op: 'header'; field: string; value: string }
  | { op: 'text'; where: 'body' | 'text'; value: string }
  /** Dates are calendar days 'YYYY-MM-DD'; internal = BEFORE/ON/SINCE, sent = SENTBEFORE/... */
  | { op: 'date'; which: 'internal' | 'sent'; cmp: 'before' | 'on' | 'since'; day: string }
  | { op: 'size'; cmp: 'larger' | 'smaller'; size: number }
  | { op: 'modseq'; modseq: number };

export type SearchReturnOption = 'MIN' | 'MAX' | 'ALL' | 'COUNT' | 'SAVE';

export interface SearchCommand {
  /** Upper-cased; only UTF-8 and US-ASCII are accepted ([BADCHARSET] otherwise). */
  charset?: string;
  /** null: a plain SEARCH (rev1 `* SEARCH` reply). A list (maybe empty): ESEARCH RETURN (...). */
  returnOptions: SearchReturnOption[] | null;
  key: SearchKey;
}

export type StoreOperation = 'add' | 'remove' | 'replace';

export interface StoreCommand {
  set: SequenceSet;
  op: StoreOperation;
  silent: boolean;
  flags: string[];
  unchangedSince?: number;
}

export type StatusItem =
  | 'MESSAGES'
  | 'UIDNEXT'
  | 'UIDVALIDITY'
  | 'UNSEEN'
  | 'DELETED'
  | 'SIZE'
  | 'RECENT'
  | 'HIGHESTMODSEQ'
  | 'APPENDLIMIT';

export interface ListCommand {
  /** LIST-EXTENDED selection options, upper-cased: SUBSCRIBED, REMOTE, RECURSIVEMATCH, SPECIAL-USE. */
  selection: string[];
  /** Decoded reference name (modified UTF-7 undone unless UTF8=ACCEPT is enabled). */
  reference: string;
  /** One or more mailbox patterns (decoded), with * and % wildcards. */
  patterns: string[];
  /** RETURN options: SUBSCRIBED, CHILDREN, SPECIAL-USE, and STATUS with its items. */
  returnSubscribed: boolean;
  returnChildren: boolean;
  returnSpecialUse: boolean;
  returnStatus: StatusItem[] | null;
}

export interface SelectCommand {
  mailbox: string;
  condstore: boolean;
  qresync?: {
    uidValidity: number;
    modseq: number;
    knownUids?: SequenceSet;
    seqMatch?: { seqs: SequenceSet; uids: SequenceSet };
  };
}

export type SortKey = 'ARRIVAL' | 'CC' | 'DATE' | 'FROM' | 'SIZE' | 'SUBJECT' | 'TO' | 'DISPLAYFROM' | 'DISPLAYTO';

export interface SortCommand {
  criteria: Array<{ key: SortKey; reverse: boolean }>;
  charset: string;
  returnOptions: SearchReturnOption[] | null;
  key: SearchKey;
}

export interface ThreadCommand {
  algorithm: 'REFERENCES' | 'ORDEREDSUBJECT';
  charset: string;
  key: SearchKey;
}

/** A thread tree node for THREAD responses: a message (uid or seq) and its children. */
export interface ThreadNode {
  /** null for a dummy parent (a message referenced but not in the result). */
  id: number | null;
  children: ThreadNode[];
}

/** One result of ImapCommandReader.next(). */
export type ReadResult =
  /** A whole command. `name` is upper-cased; UID commands are named e.g. 'UID FETCH'. */
  | { kind: 'command'; tag: string; name: string; args: Token[] }
  /**
   * A command that could not be read: a syntax error, an over-long line or command, a refused
   * literal. The reader has already skipped the rest of it. `tag` is null when the line had no
   * usable tag (the session answers with an untagged BAD).
   */
  | { kind: 'bad'; tag: string | null; message: string }
  /** APPEND: the message literals are streamed, never buffered whole. */
  | { kind: 'append'; tag: string; stream: AppendStream };

/** The messages of one APPEND command (several with MULTIAPPEND, RFC 3502). */
export interface AppendStream {
  /**
   * The next message, or null once the command line ends. Rejects with ImapSyntaxError when the
   * rest of the command is malformed (the reader has then skipped it). Call accept() or
   * reject() on each message before asking for the next one; bytes left unread are discarded.
   */
  nextMessage(): Promise<AppendMessage | null>;
}

export interface AppendMessage {
  /** The arguments before this message's literal: the mailbox (first message only), then the flag list and date-time if present. */
  args: Token[];
  /** The literal's announced size in bytes. */
  size: number;
  /** literal8 (~{n}, RFC 3516): the message may contain NUL and bare 8-bit binary. */
  binary: boolean;
  /** Sends the continuation request for a synchronising literal, then yields exactly `size` bytes. */
  accept(): AsyncIterable<Buffer>;
  /**
   * Refuses the message. For a synchronising literal nothing is sent and the client will not
   * send the bytes, so the command ends here; for a non-synchronising literal the bytes and the
   * rest of the command are read and discarded. Either way the session then answers NO/BAD.
   */
  reject(): Promise<void>;
}

export interface StatusCommand {
  mailbox: string;
  items: StatusItem[];
}
