/**
 * The remote side of `wharf ftp`, from a URL: ftp://[user@]host[:port]/path (AUTH TLS when
 * offered), ftps://... (implicit TLS, port 990) or sftp://... (port 22). The path is relative
 * to the directory the server puts us in at login, as with curl and RFC 1738: ftp://h/a/b is
 * "a/b"; a leading %2F makes it absolute (ftp://h/%2Fetc). A user name with "@" (a Wharf
 * login is a mail address) is written %40. A password in the URL is refused: it would show in
 * `ps` and in shell history.
 */
import { UsageError } from '../errors.js';

export type RemoteScheme = 'ftp' | 'ftps' | 'sftp';

export interface RemoteUrl {
  scheme: RemoteScheme;
  host: string;
  port: number;
  user: string | null;
  /** Decoded path, relative to the login directory unless it starts with "/"; "" for the login directory. */
  path: string;
  /** The URL's path ended with "/": it names a directory. */
  isDirectory: boolean;
}

const DEFAULT_PORTS: Record<RemoteScheme, number> = { ftp: 21, ftps: 990, sftp: 22 };

export function parseRemoteUrl(text: string): RemoteUrl {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`not a URL: ${JSON.stringify(text)} (use ftp://, ftps:// or sftp://host/path)`);
  }
  const scheme = url.protocol.replace(/:$/, '').toLowerCase();
  if (scheme !== 'ftp' && scheme !== 'ftps' && scheme !== 'sftp') {
    throw new UsageError(`unsupported scheme ${JSON.stringify(scheme)}: use ftp://, ftps:// or sftp://`);
  }
  if (url.password) throw new UsageError('do not put a password in the URL: it is asked for, or read with --password-stdin');
  // URL keeps IPv6 literals in brackets; sockets want them bare.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new UsageError(`no host in ${JSON.stringify(text)}`);
  const port = url.port ? Number(url.port) : DEFAULT_PORTS[scheme];
  let segments: string[];
  try {
    segments = url.pathname.split('/').slice(1).map(decodeURIComponent);
  } catch {
    throw new UsageError(`invalid percent-encoding in ${JSON.stringify(text)}`);
  }
  if (segments.some((s) => /[\r\n\0]/.test(s))) throw new UsageError('the path may not contain line breaks or NUL');
  const isDirectory = segments.length === 0 || segments[segments.length - 1] === '';
  const path = segments.join('/');
  return {
    scheme,
    host,
    port,
    user: url.username ? decodeURIComponent(url.username) : null,
    path,
    isDirectory,
  };
}

/** The last name of a path ("a/b/c.txt" → "c.txt"); "" for a directory path. */
export function baseName(path: string): string {
  return path.split('/').pop() ?? '';
}
