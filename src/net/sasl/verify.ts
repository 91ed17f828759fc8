/** Checking SASL credentials against the user database, with the authorization rule. */
import type { Authenticator } from '../types.js';
import type { SaslCredentials } from './mechanism.js';

/**
 * Acting as another user (proxy authorization) is not supported: the authzid must be empty or
 * name the user who logs in, as typed (authcid) or as resolved ("bob" logs in as
 * "bob@example.org"). Compared without regard to case, as addresses are stored lower-cased.
 */
export function authzidAllowed(authzid: string, authcid: string, address: string): boolean {
  if (authzid === '') return true;
  const wanted = authzid.toLowerCase();
  return wanted === authcid.toLowerCase() || wanted === address.toLowerCase();
}

/**
 * Verifies the password (with the authenticator's throttling) and the authzid. Null when
 * either is refused; the caller cannot tell which, and neither can the client.
 */
export async function verifyCredentials(
  auth: Authenticator,
  credentials: SaslCredentials,
  clientAddress: string,
  clientGone?: AbortSignal,
): Promise<{ userId: number; address: string } | null> {
  if (credentials.password.length === 0) return null;
  const user = await auth.verify(credentials.authcid, credentials.password, clientAddress, clientGone);
  if (!user || !authzidAllowed(credentials.authzid, credentials.authcid, user.address)) return null;
  return user;
}
