/**
 * PORT and EPRT (RFC 959, RFC 2428) and REST arguments, run through the real command handlers
 * (ftp/commands/data.ts) with a stand-in session. Invariants: exactly one reply per command;
 * a data target is set exactly when the reply is 200; an accepted target is a valid IPv4 (PORT)
 * or an address of the announced family (EPRT), on a port from 1024 to 65535, and, for a user
 * without FXP rights, the client's own address (no bounce attack, RFC 2577).
 */
import net from 'node:net';
import fc from 'fast-check';
import { dataCommands } from '../../src/ftp/commands/data.js';
import { parseCommandLine } from '../../src/ftp/command-line.js';
import type { FtpSession } from '../../src/ftp/session.js';
import { ActiveTarget } from '../../src/ftp/data-channel.js';
import { check, type FuzzTarget } from '../engine/types.js';
import { seedOf } from '../engine/rng.js';

const octet = fc.oneof(fc.integer({ min: 0, max: 255 }).map(String), fc.constantFrom('256', '-1', '007', '1000', '', ' 1', '1 '));
const portArg = fc.tuple(fc.array(octet, { minLength: 4, maxLength: 7 })).map(([o]) => o.join(','));
const ip = fc.oneof(fc.constantFrom('127.0.0.1', '127.0.0.2', '::1', '::ffff:127.0.0.1', '10.0.0.1', 'fe80::1%eth0', '1.2.3', 'localhost', ''), fc.ipV4(), fc.ipV6());
const eprtArg = fc
  .tuple(fc.constantFrom('|', '!', '||', ' ', ''), fc.constantFrom('1', '2', '3', ''), ip, fc.oneof(fc.integer({ min: 0, max: 70000 }).map(String), fc.constantFrom('', '00021', '1e3', '65536')))
  .map(([d, p, a, port]) => `${d}${p}${d}${a}${d}${port}${d}`);
const command = fc.oneof(
  portArg.map((a) => `PORT ${a}`),
  eprtArg.map((a) => `EPRT ${a}`),
  fc.oneof(fc.nat().map(String), fc.string({ maxLength: 18 })).map((a) => `REST ${a}`),
);

const CLIENTS = ['127.0.0.1', '::1', '::ffff:127.0.0.1', '192.0.2.7'];

const target: FuzzTarget = {
  name: 'ftp-port',
  description: 'PORT/EPRT/REST arguments through the real handlers (ftp/commands/data.ts)',
  generator: command.map((c) => ({ bytes: Buffer.from(c, 'utf8') })),
  dictionary: ['|', '|1|', '|2|', ',', '127,0,0,1,', '::1', '65535', '1023'],
  async run(bytes) {
    const parsed = parseCommandLine(bytes);
    if (!parsed.ok) return;
    const spec = dataCommands[parsed.command.keyword as 'PORT' | 'EPRT' | 'REST'];
    if (!spec || !['PORT', 'EPRT', 'REST'].includes(parsed.command.keyword)) return;
    const seed = seedOf(bytes);
    const remote = CLIENTS[seed % CLIENTS.length];
    const fxp = (seed & 16) !== 0;
    const replies: string[] = [];
    const setups: unknown[] = [];
    const session = {
      epsvAll: false,
      restOffset: 0,
      conn: { remoteAddress: remote, localAddress: '127.0.0.1' },
      user: { fxp },
      log: { warn() {}, info() {}, debug() {}, error() {} },
      reply: async (text: string) => void replies.push(text),
      rejectCommand: async (text: string) => void replies.push(text),
      setDataSetup: (setup: unknown) => void setups.push(setup),
    } as unknown as FtpSession;
    await spec.run(session, parsed.command.argument);
    check(replies.length === 1, `${replies.length} replies to one command`);
    const code = replies[0].slice(0, 3);
    check(/^[2-5]\d\d /.test(replies[0]), `malformed reply ${JSON.stringify(replies[0])}`);
    if (parsed.command.keyword === 'REST') {
      const offset = (session as unknown as { restOffset: number }).restOffset;
      check(code === '350' ? Number.isSafeInteger(offset) && offset >= 0 : offset === 0, `REST offset ${offset} with reply ${code}`);
      return;
    }
    check((code === '200') === (setups.length === 1), `reply ${code} but ${setups.length} data setups`);
    if (setups.length === 0) return;
    const t = setups[0] as ActiveTarget;
    check(t instanceof ActiveTarget, 'data setup is not an active target');
    check(Number.isInteger(t.port) && t.port >= 1024 && t.port <= 65535, `port ${t.port} accepted`);
    const family = net.isIP(t.host);
    check(family !== 0, `host ${JSON.stringify(t.host)} is not an IP address`);
    if (parsed.command.keyword === 'PORT') check(family === 4, 'PORT gave a non-IPv4 host');
    if (!fxp) {
      const own = (a: string) => (a.startsWith('::ffff:') ? a.slice(7) : a).toLowerCase();
      check(own(t.host) === own(remote), `target ${t.host} is not the client's own address ${remote}`);
    }
  },
};
export default target;
