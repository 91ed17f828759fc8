/**
 * How a command fails. A handler throws one of these and the session turns it into the
 * tagged reply: ImapSyntaxError (protocol/types.ts) becomes BAD, ImapNo becomes NO, both with
 * an optional response code (RFC 5530) a client can act on.
 */
export class ImapNo extends Error {
  constructor(
    message: string,
    /** Response code without brackets, e.g. 'NONEXISTENT' or 'TRYCREATE' or 'COPYUID 1 2 3'. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'ImapNo';
  }
}

/** A BAD that is not a syntax error (e.g. a command not valid in this state). */
export class ImapBad extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'ImapBad';
  }
}
