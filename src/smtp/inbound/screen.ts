/**
 * What happens on the MX port between connect and greeting: the DNS blocklists are asked about
 * the client, and the greeting waits `smtp.greetingDelayMs`. A client that sends anything
 * before the greeting (an "early talker", RFC 5321 4.3.1 says it must wait) is refused: real
 * mail servers wait, spam software often does not.
 */
import type { SmtpSession } from '../session.js';
import { formatReply } from '../reply.js';
import { findDnsblListing } from './dnsbl.js';

type Quiet = 'quiet' | 'talked' | 'gone';

/** Waits `ms`, unless the client sends something or goes away first. */
function waitQuietly(s: SmtpSession, ms: number): Promise<Quiet> {
  if (s.transport.pendingInput > 0) return Promise.resolve('talked');
  const socket = s.transport.socket;
  return new Promise((resolve) => {
    const done = (how: Quiet) => {
      clearTimeout(timer);
      socket.off('data', onData);
      for (const event of ['end', 'close', 'finish']) socket.off(event, onGone);
      resolve(how);
    };
    const onData = () => done('talked');
    const onGone = () => done('gone');
    const timer = setTimeout(() => done('quiet'), ms);
    // The line reader listens too and keeps the bytes: nothing is lost by looking.
    socket.on('data', onData);
    // 'finish': we closed our side (shutdown); 'end'/'close': the client left.
    for (const event of ['end', 'close', 'finish']) socket.on(event, onGone);
  });
}

const earlyTalker = (host: string) => formatReply(554, `5.5.0 ${host} Error: SMTP protocol synchronization: data sent before the greeting`);
const blocked = (ip: string, zone: string) => formatReply(554, `5.7.1 Service unavailable; client [${ip}] blocked using ${zone}`);

/**
 * Checks a new MX client before the greeting. Resolves with the reply to refuse it with (the
 * session then closes), or null to greet it.
 */
export async function screenClient(s: SmtpSession): Promise<string | null> {
  const ip = s.conn.remoteAddress;
  const zones = s.config.mailAuth.dnsbl;
  const listing = zones.length > 0 ? findDnsblListing(s.ctx.dns, ip, zones) : Promise.resolve(null);
  const delayMs = s.config.smtp.greetingDelayMs;
  if (delayMs > 0) {
    const how = await waitQuietly(s, delayMs);
    if (how === 'gone') return null;
    if (how === 'talked') {
      s.log.info('early talker', { client: ip, waitedMs: delayMs });
      return earlyTalker(s.host);
    }
  }
  const hit = await listing;
  if (hit) {
    s.log.info('client on a DNS blocklist', { client: ip, zone: hit.zone, answer: hit.answer });
    return blocked(ip, hit.zone);
  }
  // Also without a delay: whatever arrived while the blocklists answered came too early.
  if (s.transport.pendingInput > 0) {
    s.log.info('early talker', { client: ip, waitedMs: 0 });
    return earlyTalker(s.host);
  }
  return null;
}
