/**
 * An AbortSignal for "this client has gone": aborted when the socket closes. Work done on a
 * client's behalf that is still waiting its turn (a password check queued behind others) is
 * dropped with it, instead of running for nobody.
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
