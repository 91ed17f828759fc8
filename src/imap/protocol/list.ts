/**
 * LIST's arguments (RFC 9051 6.3.9 with LIST-EXTENDED, RFC 5258): selection options,
 * reference, one pattern or a list of them, and RETURN options (RFC 5258, SPECIAL-USE of
 * RFC 6154, STATUS of RFC 5819).
 */
import { ArgCursor } from './args.js';
import { mailboxTextFromToken } from './mailbox-name.js';
import { parseStatusItems } from './status.js';
import { ImapSyntaxError, type ListCommand, type Token } from './types.js';

const SELECTION_OPTIONS = ['SUBSCRIBED', 'REMOTE', 'RECURSIVEMATCH', 'SPECIAL-USE'];

export function parseList(args: Token[], utf8: boolean): ListCommand {
  const c = new ArgCursor(args, 'LIST');
  const selection: string[] = [];
  if (c.peek()?.kind === 'list') {
    for (const t of c.list('selection options')) {
      const option = t.kind === 'atom' ? t.value.toUpperCase() : '';
      // RFC 5258 3: an unrecognised selection option is an error, not something to ignore.
      if (!SELECTION_OPTIONS.includes(option)) throw new ImapSyntaxError('LIST: invalid selection option');
      if (!selection.includes(option)) selection.push(option);
    }
    if (selection.includes('RECURSIVEMATCH') && selection.length === 1) {
      throw new ImapSyntaxError('LIST: RECURSIVEMATCH needs another selection option');
    }
  }
  const reference = mailboxTextFromToken(c.next('reference'), utf8);
  const patternToken = c.next('mailbox pattern');
  const patternTokens = patternToken.kind === 'list' ? patternToken.items : [patternToken];
  if (patternTokens.length === 0) throw new ImapSyntaxError('LIST: empty pattern list');
  const patterns = patternTokens.map((t) => mailboxTextFromToken(t, utf8));
  const command: ListCommand = {
    selection,
    reference,
    patterns,
    // RFC 5258 3.1 and RFC 6154 3: these selection options imply the matching return option.
    returnSubscribed: selection.includes('SUBSCRIBED'),
    returnChildren: false,
    returnSpecialUse: selection.includes('SPECIAL-USE'),
    returnStatus: null,
  };
  if (c.acceptAtom('RETURN')) parseReturnOptions(new ArgCursor(c.list('RETURN options'), 'LIST RETURN'), command);
  c.end();
  return command;
}

function parseReturnOptions(c: ArgCursor, command: ListCommand): void {
  while (!c.atEnd) {
    const option = c.atom('return option').toUpperCase();
    switch (option) {
      case 'SUBSCRIBED':
        command.returnSubscribed = true;
        break;
      case 'CHILDREN':
        command.returnChildren = true;
        break;
      case 'SPECIAL-USE':
        command.returnSpecialUse = true;
        break;
      case 'STATUS':
        if (command.returnStatus) throw new ImapSyntaxError('LIST: STATUS given twice');
        command.returnStatus = parseStatusItems(c.list('STATUS items'));
        break;
      default:
        throw new ImapSyntaxError('LIST: invalid return option');
    }
  }
}
