/**
 * Parsed MIME structures, shared by both store backends. Parsing the stored JSON is most of
 * the cost of a FETCH of headers or BODYSTRUCTURE, and the same messages are fetched again and
 * again by many sessions. Keyed by the stored text itself, so a message id reused after a
 * deletion (by this process or another node) can never get a stale answer.
 */
import type { MessageStructure } from '../mime/analysis.js';

/**
 * Parsed structures kept (least recently used dropped first). Each costs its JSON text (about
 * 1.4 KB for a plain message) and the parsed object, several KB together: 4,096 of them were
 * about 10 MB of a server's resident memory after the IMAP mixed load, for a parse that takes
 * tens of microseconds when a message falls out.
 */
const STRUCTURE_CACHE_ENTRIES = 1024;

export class StructureCache {
  private readonly structures = new Map<string, MessageStructure>();

  /** The structure stored as `json`; callers must not modify it. */
  parse(json: string): MessageStructure {
    const cached = this.structures.get(json);
    if (cached) {
      // Map order is insertion order: re-inserting marks it most recently used.
      this.structures.delete(json);
      this.structures.set(json, cached);
      return cached;
    }
    const parsed = JSON.parse(json) as MessageStructure;
    this.structures.set(json, parsed);
    if (this.structures.size > STRUCTURE_CACHE_ENTRIES) this.structures.delete(this.structures.keys().next().value!);
    return parsed;
  }
}
