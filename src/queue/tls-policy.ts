/**
 * Which TLS a delivery to a domain must have, and bringing a fresh session up to it.
 *
 * - 'opportunistic' (the default): STARTTLS when the server offers it, without checking the
 *   certificate (RFC 7435); plain text when it is not offered. A failed handshake is retried
 *   on the same host without TLS, since an unauthenticated encryption attempt protects
 *   nothing that plain text would not.
 * - 'verify': STARTTLS required and the certificate must be valid for the MX host name
 *   (system CAs plus delivery.caFile); otherwise the host is skipped and the mail deferred.
 *   Set per domain in delivery.tlsPolicy, or by an MTA-STS policy in mode 'enforce', which
 *   also limits the MX hosts to its patterns.
 * - 'none': never TLS (for a peer whose TLS is broken).
 *
 * A domain's entry in delivery.tlsPolicy wins over its MTA-STS policy, so an administrator
 * can deal with a broken peer.
 */
import tls from 'node:tls';
import type { DeliveryConfig, TlsPolicy } from '../config/types.js';
import { SmtpClientError } from './smtp-client/errors.js';
import type { SmtpClientSession } from './smtp-client/session.js';
import { hostMatchesPolicy, type MtaStsPolicy, type MtaStsResolver } from './mta-sts.js';

export interface DomainTlsPolicy {
  mode: TlsPolicy;
  /** Where the rule comes from, for replies and logs. */
  source: 'configuration' | 'MTA-STS' | 'default';
  /** The MTA-STS policy in 'enforce' (limits the MX hosts) or 'testing' mode (only reported). */
  mtaSts: MtaStsPolicy | null;
}

/** The rule for `domain`: its delivery.tlsPolicy entry, else its MTA-STS policy, else opportunistic. */
export async function tlsPolicyFor(
  domain: string,
  delivery: Pick<DeliveryConfig, 'tlsPolicy'>,
  mtaSts: MtaStsResolver | null,
): Promise<DomainTlsPolicy> {
  const configured = delivery.tlsPolicy[domain] ?? delivery.tlsPolicy[domain.toLowerCase()];
  if (configured) return { mode: configured, source: 'configuration', mtaSts: null };
  const policy = mtaSts ? await mtaSts.policyFor(domain) : null;
  if (policy?.mode === 'enforce') return { mode: 'verify', source: 'MTA-STS', mtaSts: policy };
  if (policy?.mode === 'testing') return { mode: 'opportunistic', source: 'default', mtaSts: policy };
  return { mode: 'opportunistic', source: 'default', mtaSts: null };
}

/** Whether the policy lets mail go to MX host `host` (only MTA-STS 'enforce' limits this). */
export function hostAllowed(policy: DomainTlsPolicy, host: string): boolean {
  if (!policy.mtaSts || policy.mtaSts.mode !== 'enforce' || policy.source !== 'MTA-STS') return true;
  return hostMatchesPolicy(policy.mtaSts, host);
}

/**
 * TLS options for a connection: the system CAs plus `extraCa` are always loaded, so that even
 * an unchecked connection reports whether its certificate would have verified.
 */
export function tlsOptions(verify: boolean, extraCa: readonly string[]): tls.ConnectionOptions {
  return {
    rejectUnauthorized: verify,
    ca: extraCa.length > 0 ? [...tls.rootCertificates, ...extraCa] : undefined,
  };
}

/**
 * Starts TLS on a session that just said EHLO, as `mode` asks. Resolves to whether TLS is on.
 * Throws SmtpClientError 'tls-required' when 'verify' finds no STARTTLS (or a refused one) and
 * 'tls' when the handshake fails; the caller retries an 'opportunistic' host in the clear.
 */
export async function startTlsAsRequired(
  session: SmtpClientSession,
  mode: TlsPolicy,
  extraCa: readonly string[],
  source: DomainTlsPolicy['source'] = 'configuration',
): Promise<boolean> {
  if (mode === 'none' || session.secure) return session.secure;
  const host = session.serverName;
  if (!session.extensions.startTls) {
    if (mode === 'opportunistic') return false;
    throw new SmtpClientError('tls-required', 'STARTTLS', `TLS required (${source} policy) but ${host} does not offer STARTTLS`);
  }
  let refusal;
  try {
    refusal = await session.startTls(tlsOptions(mode === 'verify', extraCa));
  } catch (err) {
    if (mode === 'verify' && err instanceof SmtpClientError && err.kind === 'tls') {
      throw new SmtpClientError('tls', 'STARTTLS', `TLS required (${source} policy) and ${err.message} for ${host}`);
    }
    throw err;
  }
  if (refusal) {
    if (mode === 'opportunistic') return false;
    throw new SmtpClientError('tls-required', 'STARTTLS', `TLS required (${source} policy) but ${host} refused STARTTLS: ${refusal.code} ${refusal.lines[0] ?? ''}`.trim());
  }
  return true;
}
