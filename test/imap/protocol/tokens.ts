/** For tests: command arguments as the command reader's tokenizer produces them. */
import { ArgTokenizer } from '../../../src/imap/protocol/tokenizer.js';
import type { Token } from '../../../src/imap/protocol/types.js';

/** Tokens of one argument line (no literals). */
export function tokens(text: string): Token[] {
  const tokenizer = new ArgTokenizer({ maxDepth: 100, maxTokens: 100_000 });
  const result = tokenizer.scan(Buffer.from(text, 'utf8'), 0);
  if (result.kind !== 'end') throw new Error('literals are not supported here');
  return tokenizer.topLevel;
}
