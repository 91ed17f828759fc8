/**
 * The reused buffers of FTP's large transfers: a download sent from a few buffers refilled
 * only after the socket is done with them, and an upload's socket chunks joined in one buffer
 * reused from batch to batch. Over real loopback sockets: byte order, bounds, failures.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { describe, it } from 'node:test';
import { DataInterruptedError, dataBatches, takeInto } from '../../src/ftp/data-transfer.js';
import { BufferRing, sendFromReads } from '../../src/ftp/file-sending.js';
import { Transfer } from '../../src/ftp/session.js';

/** A connected pair of loopback sockets: `server` is the accepted side. */
async function socketPair(): Promise<{ server: net.Socket; client: net.Socket; close: () => void }> {
  const listener = net.createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
  const client = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise<void>((resolve) => client.once('connect', resolve));
  const server = await accepted;
  listener.close();
  // As the data channel does: errors are seen through 'close' and socket.errored.
  server.on('error', () => {});
  return {
    server,
    client,
    close: () => {
      server.destroy();
      client.destroy();
    },
  };
}

function collect(socket: net.Socket): Promise<Buffer> {
  const parts: Buffer[] = [];
  socket.on('data', (c: Buffer) => parts.push(c));
  return new Promise((resolve, reject) => {
    socket.once('end', () => resolve(Buffer.concat(parts)));
    socket.once('error', reject);
  });
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 2));

describe('BufferRing', () => {
  it('hands out at most its count, waits for one given back, and fails every wait', async () => {
    const ring = new BufferRing(2, 16);
    const a = await ring.take();
    const b = await ring.take();
    assert.notEqual(a, b);
    assert.equal(ring.out, 2);
    let third: Buffer | null = null;
    const waiting = ring.take().then((buf) => (third = buf));
    await tick();
    assert.equal(third, null);
    ring.give(a);
    await waiting;
    assert.equal(third, a);
    const blocked = ring.take();
    ring.fail(new Error('gone'));
    await assert.rejects(blocked, /gone/);
    await assert.rejects(ring.take(), /gone/);
  });
});

describe('sending a file from reused buffers', () => {
  it('sends every byte in order, never refilling a buffer the socket still holds', async () => {
    const file = randomBytes(5 * 64 * 1024 + 1234);
    const { server, client, close } = await socketPair();
    try {
      const received = collect(client);
      // Reading slowly on the client side keeps buffers in the socket while reads go on.
      client.pause();
      setTimeout(() => client.resume(), 20);
      const inSocket = new Set<ArrayBufferLike>();
      const write = server.write.bind(server) as (chunk: Buffer, cb: (err?: Error | null) => void) => boolean;
      (server as unknown as { write: typeof write }).write = (chunk, cb) => {
        inSocket.add(chunk.buffer);
        return write(chunk, (err) => {
          inSocket.delete(chunk.buffer);
          cb(err);
        });
      };
      let reads = 0;
      const transfer = new Transfer('RETR', '/f');
      await sendFromReads(
        server,
        async (target, position) => {
          assert.ok(!inSocket.has(target.buffer), 'a buffer was refilled while the socket held it');
          reads++;
          await tick();
          return file.copy(target, 0, position, Math.min(position + target.length, file.length));
        },
        0,
        transfer,
        { bufferBytes: 64 * 1024, buffers: 3, onSent: (n) => (transfer.bytes += n) },
      );
      server.end();
      assert.deepEqual(await received, file);
      assert.equal(transfer.bytes, file.length);
      assert.equal(reads, 6); // the last one short: no further read past the end
    } finally {
      close();
    }
  });

  it('starts at an offset and converts what it sends', async () => {
    const file = Buffer.from('zero\none\ntwo\n');
    const { server, client, close } = await socketPair();
    try {
      const received = collect(client);
      const crlf = (b: Buffer) => Buffer.from(b.toString('latin1').replace(/\n/g, '\r\n'), 'latin1');
      await sendFromReads(server, async (target, position) => file.copy(target, 0, position), 5, new Transfer('RETR', '/f'), { bufferBytes: 4, convert: crlf });
      server.end();
      assert.equal((await received).toString(), 'one\r\ntwo\r\n');
    } finally {
      close();
    }
  });

  it('fails when the client goes away, and passes a read failure on', async () => {
    const { server, client, close } = await socketPair();
    try {
      client.pause();
      const endless = async (target: Buffer) => target.length;
      const sending = sendFromReads(server, endless, 0, new Transfer('RETR', '/f'), { bufferBytes: 256 * 1024, buffers: 2 });
      await tick();
      client.destroy();
      await assert.rejects(sending, (err: Error) => err instanceof DataInterruptedError || (err as NodeJS.ErrnoException).code !== undefined);
    } finally {
      close();
    }
    const pair = await socketPair();
    try {
      const failing = async () => {
        throw new Error('disk gone');
      };
      await assert.rejects(sendFromReads(pair.server, failing, 0, new Transfer('RETR', '/f')), /disk gone/);
    } finally {
      pair.close();
    }
  });

  it('stops with 426 when the transfer is aborted', async () => {
    const { server, client, close } = await socketPair();
    try {
      client.pause();
      const transfer = new Transfer('RETR', '/f');
      const sending = sendFromReads(server, async (target) => target.length, 0, transfer, { bufferBytes: 256 * 1024, buffers: 2 });
      await tick();
      transfer.abort();
      await assert.rejects(sending, DataInterruptedError);
    } finally {
      close();
    }
  });
});

describe('upload batches', () => {
  it('takeInto fills the target from the front and keeps the rest in order', () => {
    const chunks = [Buffer.from('abc'), Buffer.from('defg'), Buffer.from('hi')];
    const target = Buffer.alloc(5);
    assert.equal(takeInto(target, chunks).toString(), 'abcde');
    assert.deepEqual(chunks.map(String), ['fg', 'hi']);
    assert.equal(takeInto(target, chunks).toString(), 'fghi');
    assert.equal(chunks.length, 0);
  });

  it('keeps byte order, bounds each batch and reuses one buffer for joined batches', async () => {
    const payload = randomBytes(3 * 1024 * 1024 + 777);
    const { server, client, close } = await socketPair();
    try {
      client.end(payload);
      const batchBytes = 256 * 1024;
      const got: Buffer[] = [];
      const joinedBuffers = new Set<ArrayBufferLike>();
      for await (const batch of dataBatches(server, batchBytes)) {
        assert.ok(batch.length > 0 && batch.length <= batchBytes);
        // Valid only until the next batch is asked for: kept as a copy.
        got.push(Buffer.from(batch));
        if (batch.length > 64 * 1024) joinedBuffers.add(batch.buffer);
        await tick(); // a slow store: the socket gathers several chunks meanwhile
      }
      assert.deepEqual(Buffer.concat(got), payload);
      assert.equal(joinedBuffers.size, 1, 'large batches are joined in one reused buffer');
    } finally {
      close();
    }
  });

  it('throws the socket error when the connection is reset mid-upload', async () => {
    const { server, client, close } = await socketPair();
    try {
      client.write(randomBytes(100_000));
      let seen = 0;
      await assert.rejects(
        (async () => {
          for await (const batch of dataBatches(server, 64 * 1024)) {
            seen += batch.length;
            if (seen >= 100_000) client.resetAndDestroy();
            await tick();
          }
        })(),
        (err: NodeJS.ErrnoException) => err.code === 'ECONNRESET',
      );
    } finally {
      close();
    }
  });
});
