/**
 * The reused buffers of FTP's large transfers: a download sent from a few buffers refilled
 * only after the socket is done with them, an upload's socket chunks joined in one buffer
 * reused from batch to batch (over TLS), and a plain upload read into two reused buffers. Over real loopback sockets: byte order, bounds, failures.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { describe, it } from 'node:test';
import { DataInterruptedError, dataBatches, takeInto } from '../../src/ftp/data-transfer.js';
import { BufferRing, sendFromReads } from '../../src/ftp/file-sending.js';
import { Transfer } from '../../src/ftp/session.js';
import { PassiveEndpoint } from '../../src/ftp/data-channel.js';
import { UploadReader } from '../../src/ftp/upload-reader.js';
import { createLogger } from '../../src/net/log.js';

/** A connected pair of loopback sockets: `server` is the accepted side. */
async function socketPair(): Promise<SocketPair> {
  const listener = net.createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
  const client = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise<void>((resolve) => client.once('connect', resolve));
  const server = await accepted;
  listener.close();
  // As the data channel does: errors are seen through 'close' and socket.errored.
  server.on('error', () => {});
  return pairOf(server, client);
}

interface SocketPair {
  server: net.Socket;
  client: net.Socket;
  close: () => void;
}

function pairOf(server: net.Socket, client: net.Socket): SocketPair {
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

/** The client sends `bytes` and resets the connection once they are read: `batches` must throw ECONNRESET. */
async function assertResetMidUpload(client: net.Socket, batches: AsyncIterable<Buffer>, bytes: number): Promise<void> {
  client.write(randomBytes(bytes));
  let seen = 0;
  await assert.rejects(
    (async () => {
      for await (const batch of batches) {
        seen += batch.length;
        if (seen >= bytes) client.resetAndDestroy();
        await tick();
      }
    })(),
    (err: NodeJS.ErrnoException) => err.code === 'ECONNRESET',
  );
}

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
      await assertResetMidUpload(client, dataBatches(server, 64 * 1024), 100_000);
    } finally {
      close();
    }
  });
});

describe('reading an upload into reused buffers', () => {
  /** A passive endpoint's connection, taken over by `reader`, and the client writing to it. */
  async function adoptedPair(reader: UploadReader): Promise<SocketPair> {
    const endpoint = await PassiveEndpoint.open({
      host: '127.0.0.1',
      portMin: 0,
      portMax: 0,
      allowedAddress: '127.0.0.1',
      log: createLogger({ level: 'error', write: () => {} }),
    });
    const client = net.connect(endpoint.port, '127.0.0.1');
    client.on('error', () => {});
    const accepted = await endpoint.accept(2000, new AbortController().signal);
    const server = reader.adopt(accepted);
    assert.ok(server, 'a passive connection that has not read is taken over');
    assert.ok(reader.reads(server));
    return pairOf(server, client);
  }

  it('keeps byte order and bounds, with two buffers for the whole upload and the socket paused while both are taken', async () => {
    const batchBytes = 256 * 1024;
    const reader = new UploadReader(batchBytes);
    const { server, client, close } = await adoptedPair(reader);
    try {
      const payload = randomBytes(6 * 1024 * 1024 + 777);
      client.end(payload);
      const got: Buffer[] = [];
      const buffers = new Set<ArrayBufferLike>();
      let pausedSeen = false;
      for await (const batch of reader.batches()) {
        assert.ok(batch.length > 0 && batch.length <= batchBytes);
        got.push(Buffer.from(batch));
        buffers.add(batch.buffer);
        // A slow store: meanwhile the other buffer fills and reading stops.
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (server.isPaused()) pausedSeen = true;
      }
      assert.deepEqual(Buffer.concat(got), payload);
      assert.equal(buffers.size, 2, 'batches come from the same two buffers');
      assert.ok(pausedSeen, 'reading stopped while the consumer held one buffer and the other was full');
    } finally {
      close();
    }
  });

  it('keeps what the client sent before the batches were asked for, with both buffers full', async () => {
    const batchBytes = 128 * 1024;
    const reader = new UploadReader(batchBytes);
    const { server, client, close } = await adoptedPair(reader);
    try {
      // The client may send before the 150 reaches it: both buffers fill and reading stops.
      const payload = randomBytes(1024 * 1024);
      client.end(payload);
      const deadline = Date.now() + 5000;
      while (!server.isPaused() && Date.now() < deadline) await tick();
      assert.ok(server.isPaused(), 'reading stopped with both buffers full');
      const got: Buffer[] = [];
      for await (const batch of reader.batches()) got.push(Buffer.from(batch));
      assert.deepEqual(Buffer.concat(got), payload);
    } finally {
      close();
    }
  });

  it('hands over what arrived without waiting for a full buffer, and ends with a small upload', async () => {
    const reader = new UploadReader();
    const { client, close } = await adoptedPair(reader);
    try {
      client.write('first');
      const batches = reader.batches();
      assert.equal(String((await batches.next()).value), 'first');
      client.end('second');
      assert.equal(String((await batches.next()).value), 'second');
      assert.equal((await batches.next()).done, true);
    } finally {
      close();
    }
  });

  it('throws the socket error when the connection is reset mid-upload', async () => {
    const reader = new UploadReader(256 * 1024);
    const { client, close } = await adoptedPair(reader);
    try {
      await assertResetMidUpload(client, reader.batches(), 300_000);
    } finally {
      close();
    }
  });

  it('leaves a connection that has read already to the stream path', async () => {
    const { server, client, close } = await socketPair();
    try {
      client.write('x');
      await new Promise((resolve) => server.once('readable', resolve));
      assert.equal(new UploadReader().adopt(server), null);
      assert.equal(server.read()?.toString(), 'x');
    } finally {
      close();
    }
  });
});
