/** Every fuzz target, by name. */
import type { FuzzTarget } from '../engine/types.js';
import filePath from './file-path.js';
import ftpCommand from './ftp-command.js';
import ftpPort from './ftp-port.js';
import imapCommand from './imap-command.js';
import imapSequenceSet from './imap-sequence-set.js';
import mime from './mime.js';
import pop3Command from './pop3-command.js';
import rfc2047 from './rfc2047-2231.js';
import rfc5322Header from './rfc5322-header.js';
import sftpRequest from './sftp-request.js';
import smtpAddress from './smtp-address.js';
import smtpCommand from './smtp-command.js';
import smtpData from './smtp-data.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const TARGETS: ReadonlyArray<FuzzTarget<any>> = [
  smtpCommand,
  smtpData,
  smtpAddress,
  pop3Command,
  imapCommand,
  imapSequenceSet,
  mime,
  rfc5322Header,
  rfc2047,
  ftpCommand,
  ftpPort,
  filePath,
  sftpRequest,
];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function findTarget(name: string): FuzzTarget<any> | undefined {
  return TARGETS.find((t) => t.name === name);
}
