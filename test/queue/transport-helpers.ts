/** What the transport tests share: a transport on a fake DNS, delivery attempts, a recording proxy. */
import net from 'node:net';
import os from 'node:os';
import type { DeliveryConfig } from '../../src/config/types.js';
import { createLogger } from '../../src/net/log.js';
import type { MtaStsOptions } from '../../src/queue/mta-sts.js';
import { createSmtpTransport } from '../../src/queue/smtp-transport.js';
import type { DeliveryAttempt, Transport } from '../../src/queue/transport.js';
import { testConfig } from '../helpers/service.js';
import { fakeDns, type DnsTable } from './fake-dns.js';

export interface TestTransport {
  transport: Transport;
  /** Every log line the transport wrote. */
  logs: string[];
}

export function makeTransport(opts: {
  port: number;
  dns: DnsTable;
  delivery?: Partial<DeliveryConfig>;
  tlsCaPem?: string;
  idleMs?: number;
  mtaSts?: Omit<MtaStsOptions, 'dns' | 'log'>;
  random?: () => number;
}): TestTransport {
  const logs: string[] = [];
  const config = testConfig(os.tmpdir(), {
    hostname: 'out.sender.test',
    delivery: { port: opts.port, connectTimeoutMs: 2000, commandTimeoutMs: 3000, ...opts.delivery },
  });
  const transport = createSmtpTransport({
    config,
    dns: fakeDns(opts.dns),
    log: createLogger({ level: 'debug', write: (line) => logs.push(line) }),
    tlsCaPem: opts.tlsCaPem,
    idleMs: opts.idleMs,
    mtaSts: opts.mtaSts,
    random: opts.random,
  });
  return { transport, logs };
}

let nextQueueId = 1;

export function attempt(domain: string, recipients: string[], text: string, extra: Partial<DeliveryAttempt> = {}): DeliveryAttempt {
  const bytes = Buffer.from(text, 'utf8');
  return {
    queueId: nextQueueId++,
    domain,
    mailFrom: 'alice@sender.test',
    recipients,
    size: bytes.length,
    eightBit: bytes.some((b) => b > 127),
    smtputf8: false,
    async *body() {
      for (let i = 0; i < bytes.length; i += 1000) yield bytes.subarray(i, i + 1000);
    },
    ...extra,
  };
}

/** A TCP proxy that records what the client sent, chunk by chunk (to see pipelined commands). */
export async function recordingProxy(targetPort: number): Promise<{ port: number; chunks: string[]; close(): Promise<void> }> {
  const chunks: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    client.on('data', (d: Buffer) => {
      chunks.push(d.toString('latin1'));
      upstream.write(d);
    });
    upstream.pipe(client);
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    chunks,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
