/**
 * Telling a TLS upload's close_notify from a bare TCP close (src/ftp/tls-closure.ts), with the
 * reader taking the data at once and with a reader that is still busy when both ends arrived.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { before, describe, it } from 'node:test';
import { generateSelfSigned } from '../../src/net/tls.js';
import { closureWatchedTransport, endedWithCloseNotify } from '../../src/ftp/tls-closure.js';

describe('TLS upload closure', () => {
  let context: tls.SecureContext;
  before(async () => {
    const pems = await generateSelfSigned('localhost');
    context = tls.createSecureContext({ cert: pems.certPem, key: pems.keyPem });
  });

  /**
   * Serves one connection: the client sends `bytes` and ends as `ending` says; the server reads
   * at once or only after `readDelayMs`. Resolves what it read and what it made of the end.
   */
  async function upload(ending: 'close_notify' | 'tcp', readDelayMs: number): Promise<{ bytes: number; atEnd: boolean; later: boolean }> {
    const result = new Promise<{ bytes: number; atEnd: boolean; later: boolean }>((resolve, reject) => {
      const server = net.createServer({ pauseOnConnect: true }, (raw) => {
        server.close();
        const watched = closureWatchedTransport(raw);
        const secured = new tls.TLSSocket(watched.transport, { isServer: true, secureContext: context });
        watched.watch(secured);
        secured.on('error', reject);
        secured.pause();
        let bytes = 0;
        secured.on('data', (chunk: Buffer) => (bytes += chunk.length));
        // Asked at the end, and again once the TCP end has surely reached TLS too (an upload
        // asks only after its last write to disk).
        secured.on('end', () => {
          const atEnd = endedWithCloseNotify(secured);
          setTimeout(() => resolve({ bytes, atEnd, later: endedWithCloseNotify(secured) }), 100);
        });
        secured.once('secure', () => {
          setTimeout(() => secured.resume(), readDelayMs);
        });
      });
      server.listen(0, '127.0.0.1', () => {
        const port = (server.address() as net.AddressInfo).port;
        const tcp = net.connect(port, '127.0.0.1');
        const client = tls.connect({ socket: tcp, rejectUnauthorized: false });
        client.on('error', () => {});
        client.once('secureConnect', () => {
          client.write(Buffer.alloc(200_000, 7), () => {
            // close_notify and FIN, or the FIN alone (TCP's end under TLS, as a killed client's kernel).
            if (ending === 'close_notify') client.end();
            else tcp.end();
          });
        });
      });
    });
    return result;
  }

  for (const readDelayMs of [0, 200]) {
    it(`tells close_notify (reader ${readDelayMs ? 'busy' : 'ready'})`, async () => {
      assert.deepEqual(await upload('close_notify', readDelayMs), { bytes: 200_000, atEnd: true, later: true });
    });
    it(`tells a bare TCP close (reader ${readDelayMs ? 'busy' : 'ready'})`, async () => {
      const got = await upload('tcp', readDelayMs);
      assert.deepEqual([got.atEnd, got.later], [false, false]);
    });
  }

  it('says false for a socket it does not watch', () => {
    assert.equal(endedWithCloseNotify(new net.Socket()), false);
  });
});
