/**
 * The parts of mailauth Wharf calls, loaded on first use. The package's index also loads ARC
 * and BIMI (with an HTTP client and an XML parser): about 17 MiB of a process that never uses
 * them. Loading on first use also keeps the rest out of a server that never receives mail
 * from outside nor signs any (an IMAP-only node, a test server), which matters when
 * thousands of idle sessions are what the memory is for.
 */
import type { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import type { dkimSign } from 'mailauth/lib/dkim/sign.js';
import type { spf } from 'mailauth/lib/spf/index.js';
import type { dmarc } from 'mailauth/lib/dmarc/index.js';

export interface MailauthChecks {
  dkimVerify: typeof dkimVerify;
  spf: typeof spf;
  dmarc: typeof dmarc;
}

let checks: Promise<MailauthChecks> | null = null;
let signer: Promise<typeof dkimSign> | null = null;

/** DKIM verification, SPF and DMARC (inbound mail on the MX port). */
export function loadMailauthChecks(): Promise<MailauthChecks> {
  checks ??= Promise.all([
    import('mailauth/lib/dkim/verify.js'),
    import('mailauth/lib/spf/index.js'),
    import('mailauth/lib/dmarc/index.js'),
  ]).then(([verify, spfModule, dmarcModule]) => ({
    dkimVerify: verify.dkimVerify,
    spf: spfModule.spf,
    dmarc: dmarcModule.dmarc,
  }));
  return checks;
}

/** DKIM signing (submitted mail). */
export function loadDkimSigner(): Promise<typeof dkimSign> {
  signer ??= import('mailauth/lib/dkim/sign.js').then((m) => m.dkimSign);
  return signer;
}
