/**
 * A certificate authority for tests: a CA certificate and server certificates it signs, so
 * that certificate verification (TLS policy 'verify', MTA-STS) is tested as it works on the
 * Internet, with the CA handed to the code under test as an extra trusted CA.
 */
import { generate } from 'selfsigned';

export interface TestCa {
  certPem: string;
  keyPem: string;
  /** A server certificate for `names` (DNS names) signed by this CA. */
  issue(names: string[]): Promise<{ cert: string; key: string }>;
}

const tenYears = () => {
  const d = new Date();
  d.setFullYear(d.getFullYear() + 10);
  return d;
};

export async function createTestCa(): Promise<TestCa> {
  const ca = await generate([{ name: 'commonName', value: 'Wharf Test CA' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: tenYears(),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  return {
    certPem: ca.cert,
    keyPem: ca.private,
    async issue(names) {
      const leaf = await generate([{ name: 'commonName', value: names[0] }], {
        keyType: 'ec',
        curve: 'P-256',
        algorithm: 'sha256',
        notAfterDate: tenYears(),
        ca: { key: ca.private, cert: ca.cert },
        extensions: [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
          { name: 'extKeyUsage', serverAuth: true },
          { name: 'subjectAltName', altNames: names.map((value) => ({ type: 2 as const, value })) },
        ],
      });
      return { cert: leaf.cert, key: leaf.private };
    },
  };
}
