/**
 * Ticket renewal (src/net/tls-tickets.ts, `tls.renewTickets`): a TLS 1.3 client that uses each ticket once, as
 * RFC 8446 section 4.6.1 asks and curl does on FTPS data connections, resumes on every
 * connection, because each resumed handshake brings a new ticket. Node alone sends none on a
 * resumed handshake, so such a client ran out after the two tickets of the first connection.
 * Checked on both ways the server makes TLS sockets: its listeners and sockets made by hand
 * (STARTTLS, AUTH TLS, FTP data connections).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { before, describe, it } from 'node:test';
import { generateSelfSigned, tlsMaterialFromPem, type ReloadableTlsMaterial } from '../../src/net/tls.js';
import { renewTicketsOnResumption } from '../../src/net/tls-tickets.js';

/** Connections made, in order: whether each resumed, and how many tickets it brought. */
interface Connection {
  resumed: boolean;
  tickets: number;
}

/**
 * Connects `count` times with TLS 1.3, each time offering a ticket not offered before (the
 * newest one kept), and never the same one twice.
 */
async function connectUsingEachTicketOnce(port: number, count: number): Promise<Connection[]> {
  const unused: Buffer[] = [];
  const made: Connection[] = [];
  for (let i = 0; i < count; i++) {
    const session = unused.pop();
    const client = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, minVersion: 'TLSv1.3', session });
    let tickets = 0;
    client.on('session', (s: Buffer) => {
      tickets++;
      unused.push(s);
    });
    client.on('data', () => {});
    await once(client, 'end');
    made.push({ resumed: client.isSessionReused(), tickets });
    client.destroy();
  }
  return made;
}

/** A listener of `material` answering "ok" to every connection, and its port. */
async function listenSayingOk(material: ReloadableTlsMaterial): Promise<{ server: tls.Server; port: number }> {
  const server = material.createServer({ handshakeTimeout: 5_000 });
  server.on('secureConnection', (socket) => socket.end('ok'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as net.AddressInfo).port };
}

describe('TLS session tickets renewed on resumption', () => {
  let material: ReloadableTlsMaterial;
  before(async () => {
    const pair = await generateSelfSigned('localhost');
    material = tlsMaterialFromPem(pair.certPem, pair.keyPem, { renewTickets: true });
    assert.equal(material.renewsTickets, true, 'this Node has the ticket key callback');
  });

  it('a listener gives every resumed connection a new ticket', async () => {
    const { server, port } = await listenSayingOk(material);
    try {
      const made = await connectUsingEachTicketOnce(port, 6);
      assert.equal(made[0].resumed, false);
      assert.deepEqual(made.slice(1).map((c) => c.resumed), [true, true, true, true, true], JSON.stringify(made));
      for (const c of made.slice(1)) assert.ok(c.tickets >= 1, 'a resumed connection brought a ticket');
    } finally {
      server.close();
    }
  });

  it('so does a TLS socket made by hand (an FTP data connection)', async () => {
    const server = net.createServer((raw) => {
      const secured = new tls.TLSSocket(raw, material.upgradeOptions());
      secured.on('error', () => {});
      secured.on('secure', () => secured.end('ok'));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const made = await connectUsingEachTicketOnce((server.address() as net.AddressInfo).port, 6);
      assert.deepEqual(made.map((c) => c.resumed), [false, true, true, true, true, true], JSON.stringify(made));
    } finally {
      server.close();
    }
  });

  it('a ticket made under other keys gets a full handshake, not an error', async () => {
    const pair = await generateSelfSigned('localhost');
    const other = tlsMaterialFromPem(pair.certPem, pair.keyPem, { renewTickets: true });
    const listening = await Promise.all([material, other].map((m) => listenSayingOk(m)));
    const servers = listening.map((l) => l.server);
    try {
      const [port, otherPort] = listening.map((l) => l.port);
      let ticket: Buffer | undefined;
      const first = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, minVersion: 'TLSv1.3' });
      first.on('session', (s: Buffer) => (ticket ??= s));
      first.on('data', () => {});
      await once(first, 'end');
      first.destroy();
      assert.ok(ticket);
      const second = tls.connect({ port: otherPort, host: '127.0.0.1', rejectUnauthorized: false, minVersion: 'TLSv1.3', session: ticket });
      const received: Buffer[] = [];
      second.on('data', (d: Buffer) => received.push(d));
      await once(second, 'end');
      assert.equal(second.isSessionReused(), false);
      assert.equal(Buffer.concat(received).toString(), 'ok');
      second.destroy();
    } finally {
      for (const s of servers) s.close();
    }
  });

  it('is off unless configured: a resumed connection then brings no ticket (Node\'s way)', async () => {
    const pair = await generateSelfSigned('localhost');
    const plain = tlsMaterialFromPem(pair.certPem, pair.keyPem);
    const { server, port } = await listenSayingOk(plain);
    try {
      const made = await connectUsingEachTicketOnce(port, 4);
      // The first connection's two tickets last two resumptions; the fourth starts afresh.
      assert.deepEqual(made.map((c) => c.resumed), [false, true, true, false], JSON.stringify(made));
      assert.deepEqual(made.map((c) => c.tickets), [2, 0, 0, 2], JSON.stringify(made));
    } finally {
      server.close();
    }
  });

  it('leaves a context alone where Node has no ticket key callback', () => {
    const lacking = { context: {} } as unknown as tls.SecureContext;
    assert.equal(renewTicketsOnResumption(lacking, randomBytes(48)), false);
    assert.throws(() => renewTicketsOnResumption(tls.createSecureContext(), randomBytes(32)), /48 bytes/);
  });

});
