/** How a file of the store looks to an SFTP client: ATTRS fields and the `ls -l` line. */
import type { FileInfo } from '../store/file-store.js';
import { S_IFDIR, S_IFREG } from './protocol.js';
import type { NameEntry, ReplyAttrs } from './wire.js';

export function replyAttrs(info: FileInfo): ReplyAttrs {
  const seconds = Math.floor(info.modified.getTime() / 1000);
  return {
    size: info.size,
    permissions: (info.type === 'directory' ? S_IFDIR : S_IFREG) | (info.mode & 0o7777),
    atime: seconds,
    mtime: seconds,
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const SIX_MONTHS_MS = 182 * 24 * 3600 * 1000;

function modeString(info: FileInfo): string {
  let s = info.type === 'directory' ? 'd' : '-';
  const chars = 'rwxrwxrwx';
  for (let i = 0; i < 9; i++) s += info.mode & (1 << (8 - i)) ? chars[i] : '-';
  return s;
}

/** As `ls -l` prints a date: the time for the last six months, the year for older ones. */
function dateString(date: Date, now: Date): string {
  const month = MONTHS[date.getUTCMonth()];
  const day = String(date.getUTCDate()).padStart(2, ' ');
  if (Math.abs(now.getTime() - date.getTime()) < SIX_MONTHS_MS) {
    const hh = String(date.getUTCHours()).padStart(2, '0');
    const mm = String(date.getUTCMinutes()).padStart(2, '0');
    return `${month} ${day} ${hh}:${mm}`;
  }
  return `${month} ${day}  ${date.getUTCFullYear()}`;
}

/**
 * The "longname" of a READDIR entry, in the layout OpenSSH's server uses (clients show it for
 * `ls -l` as it is). There are no Unix owners in a space; the files are all the user's.
 */
export function longName(info: FileInfo, name: string, owner: string, now = new Date()): string {
  const size = String(info.size).padStart(8, ' ');
  return `${modeString(info)}    1 ${owner.padEnd(8, ' ')} ${owner.padEnd(8, ' ')} ${size} ${dateString(info.modified, now)} ${name}`;
}

export function nameEntry(info: FileInfo, name: string, owner: string): NameEntry {
  return { filename: name, longname: longName(info, name, owner), attrs: replyAttrs(info) };
}
