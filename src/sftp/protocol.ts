/**
 * Numbers of SFTP version 3 (draft-ietf-secsh-filexfer-02, the version OpenSSH, libssh2 and
 * every common client speak) and of the OpenSSH extensions we answer.
 */

export const SFTP_VERSION = 3;

/** Packet types (section 3). */
export const enum PacketType {
  INIT = 1,
  VERSION = 2,
  OPEN = 3,
  CLOSE = 4,
  READ = 5,
  WRITE = 6,
  LSTAT = 7,
  FSTAT = 8,
  SETSTAT = 9,
  FSETSTAT = 10,
  OPENDIR = 11,
  READDIR = 12,
  REMOVE = 13,
  MKDIR = 14,
  RMDIR = 15,
  REALPATH = 16,
  STAT = 17,
  RENAME = 18,
  READLINK = 19,
  SYMLINK = 20,
  STATUS = 101,
  HANDLE = 102,
  DATA = 103,
  NAME = 104,
  ATTRS = 105,
  EXTENDED = 200,
  EXTENDED_REPLY = 201,
}

/** Status codes (section 7). */
export const enum Status {
  OK = 0,
  EOF = 1,
  NO_SUCH_FILE = 2,
  PERMISSION_DENIED = 3,
  FAILURE = 4,
  BAD_MESSAGE = 5,
  OP_UNSUPPORTED = 8,
}

/** SSH_FXP_OPEN pflags (section 6.3). */
export const enum OpenFlag {
  READ = 0x01,
  WRITE = 0x02,
  APPEND = 0x04,
  CREAT = 0x08,
  TRUNC = 0x10,
  EXCL = 0x20,
}

/** Which ATTRS fields are present (section 5). */
export const enum AttrFlag {
  SIZE = 0x01,
  UIDGID = 0x02,
  PERMISSIONS = 0x04,
  ACMODTIME = 0x08,
  EXTENDED = 0x80000000,
}

/** File type bits carried in the permissions field, as stat(2) has them: clients show "d" from these. */
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;

/**
 * Longest packet accepted: OpenSSH's own limit (SFTP_MAX_MSG_LENGTH, 256 KiB), which covers
 * its largest WRITE (32 KiB by default, up to 255 KiB when a server says more in limits@).
 */
export const MAX_PACKET_BYTES = 256 * 1024;
/** Most bytes sent in one DATA reply; clients ask again for the rest of a short read. */
export const MAX_READ_BYTES = 64 * 1024;

/** Extensions announced in VERSION, with the version numbers OpenSSH announces. */
export const EXTENSIONS: ReadonlyArray<[string, string]> = [
  ['posix-rename@openssh.com', '1'],
  ['statvfs@openssh.com', '2'],
  ['copy-data', '1'],
];
