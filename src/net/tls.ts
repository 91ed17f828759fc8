import { constants as fsConstants } from 'node:fs';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import { generate } from 'selfsigned';
import type { TlsConfig } from '../config/types.js';
import type { Logger, TlsMaterial } from './types.js';

export function tlsMaterialFromPem(certPem: string, keyPem: string): TlsMaterial {
  // TLS 1.2 is the floor every current mail and FTP client supports (RFC 8996 retired 1.0/1.1).
  const serverOptions = { cert: certPem, key: keyPem, minVersion: 'TLSv1.2' as const };
  return { certPem, keyPem, serverOptions, secureContext: tls.createSecureContext(serverOptions) };
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file, fsConstants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The configured certificate, or a self-signed one kept in `<dataDir>/tls/` (generated on the
 * first start, reused after it, so clients that pinned it keep working across restarts).
 */
export async function loadTlsMaterial(
  config: TlsConfig,
  dataDir: string,
  hostname: string,
  log: Logger,
): Promise<TlsMaterial> {
  if (config.certFile && config.keyFile) {
    const [cert, key] = await Promise.all([readFile(config.certFile, 'utf8'), readFile(config.keyFile, 'utf8')]);
    return tlsMaterialFromPem(cert, key);
  }
  const dir = path.join(dataDir, 'tls');
  const certFile = path.join(dir, 'self-signed.crt');
  const keyFile = path.join(dir, 'self-signed.key');
  if ((await exists(certFile)) && (await exists(keyFile))) {
    const [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
    return tlsMaterialFromPem(cert, key);
  }
  const pems = await generateSelfSigned(hostname);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(keyFile, pems.keyPem, { mode: 0o600 });
  await writeFile(certFile, pems.certPem, { mode: 0o644 });
  log.info('generated self-signed certificate', { hostname, file: certFile });
  return tlsMaterialFromPem(pems.certPem, pems.keyPem);
}

export async function generateSelfSigned(hostname: string): Promise<{ certPem: string; keyPem: string }> {
  const notAfterDate = new Date();
  notAfterDate.setFullYear(notAfterDate.getFullYear() + 10);
  const pems = await generate([{ name: 'commonName', value: hostname }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: false },
      // No keyUsage/extKeyUsage: selfsigned 5 writes them empty, which forbids every use.
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: hostname },
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  return { certPem: pems.cert, keyPem: pems.private };
}
