/**
 * The full-text index over stored messages. One facet of the storage contract (../types.ts says
 * what every implementation keeps to).
 */

/** Fields of the full-text index (decoded text, RFC 2047 / transfer encoding / charset undone). */
export type TextField = 'body' | 'text' | 'subject' | 'from' | 'to' | 'cc' | 'bcc';

/** The full-text index, filled when a message is stored. */
export interface SearchStore {
  /**
   * UIDs (ascending) in the mailbox whose decoded `field` contains `needle`, case-insensitively
   * (each character lower-cased on its own; no other folding), exactly as a substring: the index
   * narrows the candidates, a check on the text confirms. An empty needle matches every entry
   * that has the field (a message without a Subject header does not match SUBJECT "").
   */
  searchText(mailboxId: number, field: TextField, needle: string): Promise<number[]>;
}
