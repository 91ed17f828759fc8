/**
 * When a password may cross the wire: over TLS, from loopback (the seeds' telnet dialogues,
 * local tools), or when the operator allowed it in configuration (RFC 8314 section 5, RFC
 * 2595 section 2.3, RFC 4954 section 14, RFC 9051 LOGINDISABLED).
 */
import type { AuthConfig } from '../config/types.js';

/** 127.0.0.0/8 and ::1 (addresses as the listener normalizes them: IPv4-mapped unwrapped). */
export function isLoopbackAddress(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}

export function passwordsAllowed(
  conn: { secure: boolean; remoteAddress: string },
  auth: Pick<AuthConfig, 'allowInsecure'>,
): boolean {
  return conn.secure || isLoopbackAddress(conn.remoteAddress) || auth.allowInsecure;
}
