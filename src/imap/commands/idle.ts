/** IDLE (RFC 2177): updates reach the client as they happen until it sends DONE. */
import { ArgCursor } from '../protocol/args.js';
import { ImapBad } from '../errors.js';
import { AUTHENTICATED, argsOf, type CommandSpec } from './types.js';

export const idle: CommandSpec = {
  states: AUTHENTICATED,
  async run(s, c) {
    new ArgCursor(argsOf(c), 'IDLE').end();
    const result = await s.idle();
    if (result === 'bad') throw new ImapBad('Expected DONE');
    return { text: 'IDLE terminated' };
  },
};
