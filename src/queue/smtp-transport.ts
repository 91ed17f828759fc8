/**
 * The Transport (transport.ts) that delivers over SMTP: to the recipient domain's MX hosts
 * (mx.ts), or to the configured smarthost (delivery.relay) with its TLS mode and AUTH. Hosts
 * are tried in order, and each host's addresses in turn: a refused connection, a timeout or a
 * temporary refusal before the transaction moves on to the next; once a server has taken the
 * transaction, its replies are the outcomes. TLS follows tls-policy.ts. Connections are kept
 * for the next message to the same host (a few seconds) and limited per host.
 */
import net from 'node:net';
import { lookup } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import type { WharfConfig } from '../config/types.js';
import type { DnsResolver } from '../net/dns.js';
import type { Logger } from '../net/types.js';
import { findMailHosts, ownIdentity, resolveAddresses, type OwnIdentity } from './mx.js';
import { MtaStsResolver, hostMatchesPolicy, type MtaStsOptions } from './mta-sts.js';
import { SmtpClientError, failureReply } from './smtp-client/errors.js';
import { SessionPool, type Lease } from './smtp-client/pool.js';
import { SmtpClientSession } from './smtp-client/session.js';
import { sendMessage } from './smtp-client/transaction.js';
import { hostAllowed, startTlsAsRequired, tlsOptions, tlsPolicyFor, type DomainTlsPolicy } from './tls-policy.js';
import type { DeliveryAttempt, RecipientOutcome, Transport } from './transport.js';

/** How long an unused connection waits for another message to the same host. */
const DEFAULT_IDLE_MS = 5_000;

export interface SmtpTransportOptions {
  config: Pick<WharfConfig, 'hostname' | 'host' | 'ports' | 'delivery'>;
  dns: DnsResolver;
  log: Logger;
  /** CA certificates (PEM) trusted besides the system's and delivery.caFile. */
  tlsCaPem?: string;
  /** How MTA-STS policies are fetched (port, CA, or a fetch function); used when delivery.mtaSts is on. */
  mtaSts?: Omit<MtaStsOptions, 'dns' | 'log'>;
  /** How long a connection is kept open without a message (default 5 s). */
  idleMs?: number;
  /** Order among MX hosts of equal preference (default: Math.random). */
  random?: () => number;
}

/** One host to try, with its addresses. */
interface Target {
  name: string;
  port: number;
  addresses: string[];
}

/** How to talk to the hosts of one delivery. */
interface Route {
  targets: Target[];
  policy: DomainTlsPolicy;
  /** Smarthost with TLS from the first byte. */
  implicitTls: boolean;
  login: { username: string; password: string } | null;
}

interface HostFailure {
  reply: string;
  /** The host refused us for good (5xx greeting or HELO): with every host so, the mail bounces. */
  permanent: boolean;
}

type Routed = { route: Route } | { outcome: 'bounced' | 'deferred'; reply: string };

export function createSmtpTransport(opts: SmtpTransportOptions): Transport {
  return new SmtpTransport(opts);
}

class SmtpTransport implements Transport {
  private readonly delivery: SmtpTransportOptions['config']['delivery'];
  private readonly pool: SessionPool<SmtpClientSession>;
  private readonly self: OwnIdentity;
  private readonly mtaSts: MtaStsResolver | null;
  private caPems: Promise<string[]> | null = null;
  private closed = false;

  constructor(private readonly opts: SmtpTransportOptions) {
    this.delivery = opts.config.delivery;
    this.self = ownIdentity(opts.config);
    this.pool = new SessionPool({
      maxPerKey: Math.max(1, this.delivery.maxConnectionsPerDestination),
      idleMs: opts.idleMs ?? DEFAULT_IDLE_MS,
    });
    this.mtaSts = this.delivery.mtaSts && !this.delivery.relay ? new MtaStsResolver({ ...opts.mtaSts, dns: opts.dns, log: opts.log }) : null;
  }

  async deliver(attempt: DeliveryAttempt, signal?: AbortSignal): Promise<RecipientOutcome[]> {
    const log = this.opts.log.child({ queueId: attempt.queueId, domain: attempt.domain });
    const all = (outcome: RecipientOutcome['outcome'], reply: string, remoteMta?: string): RecipientOutcome[] =>
      attempt.recipients.map((address) => ({ address, outcome, reply, ...(remoteMta ? { remoteMta } : {}) }));
    if (this.closed) return all('deferred', '451 4.3.2 Delivery is shutting down');
    try {
      const routed = await this.route(attempt.domain);
      if (!('route' in routed)) {
        log.info('delivery not possible', { outcome: routed.outcome, reply: routed.reply });
        return all(routed.outcome, routed.reply);
      }
      const { route } = routed;
      let failures: HostFailure[] = [];
      for (const target of route.targets) {
        if (signal?.aborted) return all('deferred', '451 4.3.2 Delivery interrupted');
        if (!hostAllowed(route.policy, target.name)) {
          failures.push({ reply: `451 4.7.5 MX host ${target.name} does not match the MTA-STS policy of ${attempt.domain}`, permanent: false });
          continue;
        }
        const result = await this.tryHost(target, route, attempt, log, signal);
        if ('outcomes' in result) return result.outcomes;
        failures.push(result.failure);
      }
      if (failures.length === 0) failures = [{ reply: `451 4.4.4 No mail host to try for ${attempt.domain}`, permanent: false }];
      const last = failures[failures.length - 1];
      const outcome = failures.every((f) => f.permanent) ? 'bounced' : 'deferred';
      log.info('delivery failed on every host', { outcome, reply: last.reply, hosts: route.targets.length });
      return all(outcome, last.reply);
    } catch (err) {
      // Not a delivery failure but a fault of ours: keep the mail and say what happened.
      log.error('delivery error', { error: err instanceof Error ? err : String(err) });
      return all('deferred', `451 4.3.0 Delivery failed locally: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.pool.close();
  }

  /** The smarthost, or the domain's MX hosts with its TLS policy; or why there is nowhere to go. */
  private async route(domain: string): Promise<Routed> {
    const relay = this.delivery.relay;
    if (relay) {
      const lookup = await resolveAddresses(this.opts.dns, relay.host);
      // A smarthost may be a name only this machine knows (/etc/hosts, a container network).
      const addresses = lookup.addresses.length > 0 ? lookup.addresses : await systemLookup(relay.host);
      if (addresses.length === 0) {
        return { outcome: 'deferred', reply: `451 4.4.3 Cannot resolve the smarthost ${relay.host} (${lookup.error})` };
      }
      const mode = relay.security === 'none' ? 'none' : 'verify';
      return {
        route: {
          targets: [{ name: relay.host.toLowerCase(), port: relay.port, addresses }],
          policy: { mode, source: 'configuration', mtaSts: null },
          implicitTls: relay.security === 'implicit',
          login: relay.username ? { username: relay.username, password: relay.password ?? '' } : null,
        },
      };
    }
    const found = await findMailHosts(domain, this.opts.dns, this.self, this.opts.random);
    if (!found.ok) return { outcome: found.outcome, reply: found.reply };
    const policy = await tlsPolicyFor(domain, this.delivery, this.mtaSts);
    return {
      route: {
        targets: found.hosts.map((h) => ({ name: h.name, port: this.delivery.port, addresses: h.addresses })),
        policy,
        implicitTls: false,
        login: null,
      },
    };
  }

  /** Delivers through one host: a pooled session after RSET, or a new one on one of its addresses. */
  private async tryHost(
    target: Target,
    route: Route,
    attempt: DeliveryAttempt,
    log: Logger,
    signal: AbortSignal | undefined,
  ): Promise<{ outcomes: RecipientOutcome[] } | { failure: HostFailure }> {
    const key = `${target.name}:${target.port}`;
    let lease: Lease<SmtpClientSession>;
    try {
      lease = await this.pool.acquire(key, (s) => suits(s, route), signal);
    } catch {
      return { failure: { reply: '451 4.3.2 Delivery interrupted', permanent: false } };
    }
    let session = lease.session;
    if (session && !(await session.reset())) {
      session.destroy();
      session = null;
    }
    if (session) log.debug('reusing connection', { host: target.name, messages: session.messages });
    if (!session) {
      const opened = await this.open(target, route, log, signal);
      if ('failure' in opened) {
        this.pool.release(lease, null, false);
        return opened;
      }
      session = opened.session;
    }

    const onAbort = () => session.destroy('delivery interrupted (shutting down)');
    signal?.addEventListener('abort', onAbort, { once: true });
    const result = await sendMessage(session, attempt);
    signal?.removeEventListener('abort', onAbort);
    if (!result.reusable && session.alive) void session.quit();
    this.pool.release(lease, session, result.reusable);

    const counts = { delivered: 0, deferred: 0, bounced: 0 };
    for (const r of result.recipients) counts[r.outcome]++;
    log.info('delivery', { host: target.name, tls: session.secure, ...counts, reply: result.recipients[0]?.reply });
    if (route.policy.mtaSts?.mode === 'testing') this.reportTesting(route, target, session, log);
    return { outcomes: result.recipients.map((r) => ({ ...r, remoteMta: target.name })) };
  }

  /** Opens a session on the first address of `target` that works, with TLS and AUTH as the route asks. */
  private async open(
    target: Target,
    route: Route,
    log: Logger,
    signal: AbortSignal | undefined,
  ): Promise<{ session: SmtpClientSession } | { failure: HostFailure }> {
    const ca = await this.extraCa();
    let failure: HostFailure = { reply: `451 4.4.1 ${target.name}: no address to connect to`, permanent: false };
    for (const address of target.addresses) {
      if (signal?.aborted) return { failure: { reply: '451 4.3.2 Delivery interrupted', permanent: false } };
      let tlsMode = route.policy.mode;
      for (;;) {
        let session: SmtpClientSession | null = null;
        try {
          session = await SmtpClientSession.open({
            host: address,
            port: target.port,
            serverName: target.name,
            clientName: this.opts.config.hostname,
            connectTimeoutMs: this.delivery.connectTimeoutMs,
            commandTimeoutMs: this.delivery.commandTimeoutMs,
            implicitTls: route.implicitTls ? tlsOptions(true, ca) : undefined,
            localAddress: sourceAddress(this.opts.config.host, address),
          });
          await startTlsAsRequired(session, tlsMode, ca, route.policy.source);
          if (route.login) await session.login(route.login.username, route.login.password);
          log.debug('connected', { host: target.name, address, port: target.port, tls: session.conn.tlsState ?? false });
          return { session };
        } catch (err) {
          session?.destroy();
          const reply = failureReply(err, target.name);
          log.info('host failed', { host: target.name, address, port: target.port, reply });
          // RFC 7435: a failed opportunistic handshake is no reason to stay away from the host.
          if (tlsMode === 'opportunistic' && err instanceof SmtpClientError && err.kind === 'tls') {
            tlsMode = 'none';
            continue;
          }
          const stage = err instanceof SmtpClientError ? err.stage : '';
          const permanent = err instanceof SmtpClientError && err.permanent && ['greeting', 'EHLO', 'HELO'].includes(stage);
          failure = { reply, permanent };
          break;
        }
      }
    }
    return { failure };
  }

  /** MTA-STS 'testing' (RFC 8461 5.2): what enforce would have refused is only reported. */
  private reportTesting(route: Route, target: Target, session: SmtpClientSession, log: Logger): void {
    const matches = hostMatchesPolicy(route.policy.mtaSts!, target.name);
    const verified = session.conn.tlsState?.authorized ?? false;
    if (!matches || !verified) log.warn('mta-sts testing policy not met', { host: target.name, mxMatches: matches, tlsVerified: verified });
  }

  private extraCa(): Promise<string[]> {
    this.caPems ??= (async () => {
      const pems: string[] = [];
      if (this.opts.tlsCaPem) pems.push(this.opts.tlsCaPem);
      if (this.delivery.caFile) {
        try {
          pems.push(await readFile(this.delivery.caFile, 'utf8'));
        } catch (err) {
          this.opts.log.error('cannot read delivery.caFile', { file: this.delivery.caFile, error: err instanceof Error ? err : String(err) });
        }
      }
      return pems;
    })();
    return this.caPems;
  }
}

async function systemLookup(host: string): Promise<string[]> {
  try {
    return (await lookup(host, { all: true, verbatim: false })).map((a) => a.address);
  } catch {
    return [];
  }
}

/** Whether a pooled session meets what this delivery needs (a verified certificate under 'verify'). */
function suits(session: SmtpClientSession, route: Route): boolean {
  if (route.policy.mode !== 'verify') return true;
  return session.conn.tlsState?.authorized === true;
}

/**
 * The address to send from: the one we listen on when it is a single address of the peer's
 * family (a host with several addresses sends from the one its MX record and SPF name);
 * otherwise the system's choice.
 */
function sourceAddress(listenHost: string, peer: string): string | undefined {
  const family = net.isIP(listenHost);
  if (family === 0 || family !== net.isIP(peer)) return undefined;
  if (listenHost === '0.0.0.0' || listenHost === '::') return undefined;
  return listenHost;
}

