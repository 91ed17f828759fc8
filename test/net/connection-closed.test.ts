import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it } from 'node:test';
import { connectionClosed } from '../../src/net/connection-closed.js';

describe('connectionClosed', () => {
  it('aborts when the client closes the connection, with one signal per socket', async () => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    const accepted = once(server, 'connection');
    const client = net.connect(port, '127.0.0.1');
    const [socket] = (await accepted) as [net.Socket];
    const signal = connectionClosed(socket);
    assert.equal(connectionClosed(socket), signal);
    assert.equal(signal.aborted, false);
    const aborted = once(signal, 'abort');
    client.destroy();
    socket.resume();
    await aborted;
    assert.equal(signal.aborted, true);
    server.close();
  });

  it('is aborted at once for a socket already destroyed', () => {
    const socket = new net.Socket();
    socket.destroy();
    assert.equal(connectionClosed(socket).aborted, true);
  });
});
