/**
 * An AbortSignal for "this client has gone": aborted when the socket closes. Work done on a
 * client's behalf that is still waiting its turn (a password check queued behind others) is
 * dropped with it, instead of running for nobody: after 40 clients had sent an FTP password
 * and hung up, the next real login took 10.3 to 10.8 s while their hashes all still ran, and
 * about 1 s with them dropped (on a busy two-core machine).
 */
import type { Socket } from 'node:net';

const signals = new WeakMap<Socket, AbortSignal>();

export function connectionClosed(socket: Socket): AbortSignal {
  let signal = signals.get(socket);
  if (!signal) {
    const controller = new AbortController();
    signal = controller.signal;
    signals.set(socket, signal);
    if (socket.destroyed) controller.abort();
    else socket.once('close', () => controller.abort());
  }
  return signal;
}
