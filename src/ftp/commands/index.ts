/** The command table: every keyword this server knows, and whether it needs a login. */
import type { CommandSpec } from '../session.js';
import { accessCommands } from './access.js';
import { dataCommands } from './data.js';
import { fileCommands } from './files.js';
import { infoCommands } from './info.js';
import { transferCommands } from './transfers.js';

export const commandTable: ReadonlyMap<string, CommandSpec> = new Map<string, CommandSpec>(
  Object.entries({ ...accessCommands, ...infoCommands, ...fileCommands, ...dataCommands, ...transferCommands }),
);
