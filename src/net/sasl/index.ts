/** SASL (RFC 4422) for every protocol: one set of mechanisms, one set of rules. */
import { createLoginMechanism } from './login.js';
import type { SaslMechanism } from './mechanism.js';
import { createPlainMechanism } from './plain.js';

export type { SaslCredentials, SaslFailure, SaslMechanism, SaslStep } from './mechanism.js';
export { parsePlainMessage, createPlainMechanism } from './plain.js';
export { createLoginMechanism } from './login.js';
export { decodeBase64, decodeClientResponse, type ClientResponse } from './response.js';
export { runSaslExchange, type SaslChannel, type SaslExchangeOptions, type SaslOutcome } from './exchange.js';
export { authzidAllowed, verifyCredentials } from './verify.js';

const FACTORIES: ReadonlyMap<string, () => SaslMechanism> = new Map([
  ['PLAIN', createPlainMechanism],
  ['LOGIN', createLoginMechanism],
]);

/**
 * A fresh mechanism for one exchange, when `name` (any case) is one of `offered`; null when
 * the protocol does not offer it here or it is not implemented.
 */
export function createSaslMechanism(name: string, offered: readonly string[]): SaslMechanism | null {
  const upper = name.toUpperCase();
  if (!offered.includes(upper)) return null;
  return FACTORIES.get(upper)?.() ?? null;
}
