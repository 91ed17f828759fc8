/** The SFTP service: SSH (via ssh2) with only the "sftp" subsystem, serving users' file spaces. */
import type { ServiceContext, SessionHandler } from '../net/types.js';
import type { FileStore } from '../store/file-store.js';
import { uploadAllowance } from '../store/files/quota.js';
import type { HostKey } from './host-keys.js';
import { SshSession } from './ssh-session.js';

export { loadHostKeys, sshFingerprint, type HostKey } from './host-keys.js';

export function createSftpHandler(ctx: ServiceContext, files: FileStore, hostKeys: HostKey[]): SessionHandler {
  const deps = {
    ctx,
    files,
    hostKeys,
    sshKeys: (address: string) => ctx.store.listSshKeys(address),
    uploadAllowance: (space: { kind: 'user'; userId: number; address: string }) => uploadAllowance(ctx.config.files, ctx.store, files, space),
  };
  return {
    open: (conn) => new SshSession(deps, conn),
    // RFC 4253 4.2 lets a server send lines before its version string; clients show or log
    // them, then see the connection close.
    refuse: (reason) =>
      reason === 'shutting-down' ? 'Server shutting down, try again later\r\n' : 'Too many connections, try again later\r\n',
  };
}
