/**
 * `wharf serve` without the process concerns: starts the HTTP endpoints (health, readiness),
 * opens the store, prepares TLS and starts one listener per enabled service; `stop()` undoes
 * it all in order. Signals and exit codes live in src/cli/serve.ts.
 */
import { mkdir } from 'node:fs/promises';
import type { WharfConfig } from './config/types.js';
import { createAuthThrottle } from './net/auth-throttle.js';
import { createAuthenticator } from './net/authenticator.js';
import { connectionRateAdmission } from './net/connection-rate.js';
import { createDnsResolver } from './net/dns.js';
import { ConnectionCount, listen, type Listener } from './net/listener.js';
import { loadTlsMaterial, type LoadedCertificate, type ReloadableTlsMaterial } from './net/tls.js';
import type { Logger, ServiceContext, SessionHandler, TlsMaterial } from './net/types.js';
import { createFtpHandler } from './ftp/index.js';
import { createImapHandler } from './imap/index.js';
import { createPop3Handler } from './pop3/index.js';
import { createSftpHandler, loadHostKeys, type HostKey } from './sftp/index.js';
import { createSmtpHandler } from './smtp/index.js';
import { createSmtpTransport } from './queue/smtp-transport.js';
import type { Transport } from './queue/transport.js';
import { startQueueWorker, type QueueWorker } from './queue/worker.js';
import type { FileStore } from './store/file-store.js';
import { openFileStore } from './store/files/index.js';
import { filesUsageUnderMailQuota } from './store/files/quota.js';
import { openStore, storeOptions } from './store/index.js';
import type { Store } from './store/types.js';
import { Readiness } from './web/readiness.js';
import { startWebServer, type WebServer } from './web/server.js';

export interface RunningServer {
  /** Service name → the port it actually listens on (differs from the config when that was 0). */
  readonly ports: Readonly<Record<string, number>>;
  /**
   * Reports not ready at once, stops accepting, lets every session finish its transaction
   * (within the configured grace period) and say goodbye, closes the store, and stops the
   * HTTP endpoints last. Safe to call more than once.
   */
  stop(): Promise<void>;
  /**
   * Reads the TLS certificate files again; handshakes from now on use them, sessions already
   * up keep theirs. Rejects (keeping the current certificates) when a file is unreadable or a
   * key does not match its certificate.
   */
  reloadTls(): Promise<LoadedCertificate[]>;
}

/** A port could not be opened (typically: already in use). */
export class ListenError extends Error {
  constructor(
    readonly service: string,
    readonly host: string,
    readonly port: number,
    cause: Error,
  ) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why =
      code === 'EADDRINUSE'
        ? 'the port is already in use'
        : code === 'EACCES'
          ? 'permission denied (ports below 1024 need privileges)'
          : code === 'EADDRNOTAVAIL'
            ? 'the address is not available on this machine'
            : cause.message;
    super(`cannot listen for ${service} on ${host}:${port}: ${why}`);
    this.name = 'ListenError';
  }
}

interface ServiceSpec {
  name: string;
  port: number;
  handler: SessionHandler;
  implicitTls?: TlsMaterial;
}

/** The services of this release and their ports (HTTP starts on its own). */
function serviceSpecs(ctx: ServiceContext, files: FileStore, hostKeys: HostKey[]): ServiceSpec[] {
  const { ports } = ctx.config;
  const mx = createSmtpHandler(ctx, 'mx');
  // One handler for both submission ports: STARTTLS on 587-style, TLS from the start on 465-style.
  const submission = createSmtpHandler(ctx, 'submission');
  const pop3 = createPop3Handler(ctx);
  const imap = createImapHandler(ctx);
  // One handler for both FTP ports: AUTH TLS on the plain one, TLS from the start on FTPS.
  const ftp = createFtpHandler(ctx, files);
  const sftp = createSftpHandler(ctx, files, hostKeys);
  return [
    { name: 'smtp', port: ports.smtp, handler: mx },
    { name: 'submission', port: ports.submission, handler: submission },
    { name: 'submissions', port: ports.submissions, handler: submission, implicitTls: ctx.tls },
    { name: 'pop3', port: ports.pop3, handler: pop3 },
    { name: 'pop3s', port: ports.pop3s, handler: pop3, implicitTls: ctx.tls },
    { name: 'imap', port: ports.imap, handler: imap },
    { name: 'imaps', port: ports.imaps, handler: imap, implicitTls: ctx.tls },
    { name: 'ftp', port: ports.ftp, handler: ftp },
    { name: 'ftps', port: ports.ftps, handler: ftp, implicitTls: ctx.tls },
    { name: 'sftp', port: ports.sftp, handler: sftp },
  ];
}

/** Upper bound on waiting for sessions beyond their own grace period, so stop() always ends. */
const SHUTDOWN_SLACK_MS = 5_000;

export async function startServer(config: WharfConfig, log: Logger): Promise<RunningServer> {
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const readiness = new Readiness(log);
  const listeners: Listener[] = [];
  let web: WebServer | null = null;
  let store: Store | null = null;
  let files: FileStore | null = null;
  let queueWorker: QueueWorker | null = null;
  let transport: Transport | null = null;
  let stopping: Promise<void> | null = null;
  let tls: ReloadableTlsMaterial | null = null;

  const stopAll = async (): Promise<void> => {
    // First: the load balancer stops sending work while sessions in flight finish.
    readiness.drain();
    await Promise.all(listeners.map((l) => l.stopAccepting()));
    const sessions = listeners.reduce((n, l) => n + l.sessionCount, 0);
    if (sessions > 0) log.info('closing sessions', { sessions, graceMs: config.shutdownGraceMs });
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      Promise.all(listeners.map((l) => l.shutdownSessions())).then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), config.shutdownGraceMs + SHUTDOWN_SLACK_MS);
      }),
    ]);
    clearTimeout(timer);
    if (!drained) log.warn('sessions still open after the grace period; closing the store anyway');
    // Deliveries under way are aborted and released for the next worker (or this node's next start).
    await queueWorker?.stop();
    await transport?.close();
    // The file store before the store: the database one uses the store's connections.
    await files?.close();
    await store?.close();
    // Last: until the process goes, /healthz says it is alive and /readyz that it is draining.
    await web?.close();
  };

  try {
    // HTTP first, so a liveness probe is answered (and readiness says "starting") while the
    // store opens, which may wait for another node's migrations.
    try {
      web = await startWebServer({
        host: config.host,
        port: config.ports.http,
        maxConnections: config.limits.maxConnections,
        nodeId: config.nodeId,
        readiness,
        log,
        logLevel: config.logLevel,
        // Read lazily: the listeners start after the HTTP endpoints.
        sessions: () => Object.fromEntries(listeners.map((l) => [l.name, l.sessionCount])),
      });
    } catch (err) {
      throw new ListenError('http', config.host, config.ports.http, err as Error);
    }
    store = await openStore(storeOptions(config));
    // Users' files for FTP and SFTP: real files in the data folder, or the store's PostgreSQL database.
    files = await openFileStore(config, store);
    tls = await loadTlsMaterial(config.tls, config.dataDir, config.hostname, log);
    const throttle = createAuthThrottle(config.authThrottle, store);
    const auth = createAuthenticator({ store, auth: config.auth, throttle, log });
    const fileStore = files;
    const ctx: ServiceContext = {
      config,
      store,
      log,
      tls,
      auth,
      dns: createDnsResolver(config.dns),
      // One quota for mail and files (files.quota 'shared'): mail leaves room for the files.
      otherUsage: (user) => filesUsageUnderMailQuota(config.files, fileStore, user),
    };
    // Shared by every listener: the connection cap over all services, the count per client
    // address over all services (as Postfix's anvil), and the rate per address.
    const allConnections = new ConnectionCount();
    const admit = connectionRateAdmission(store, config.limits.maxConnectionRatePerAddress);
    const hostKeys = await loadHostKeys(config.dataDir, log);
    for (const key of hostKeys) log.info('sftp host key', { algorithm: key.algorithm, fingerprint: key.fingerprint });
    for (const spec of serviceSpecs(ctx, files, hostKeys)) {
      try {
        listeners.push(
          await listen(spec.handler, {
            name: spec.name,
            host: config.host,
            port: spec.port,
            implicitTls: spec.implicitTls,
            limits: config.limits,
            log,
            allConnections,
            admit,
          }),
        );
      } catch (err) {
        throw new ListenError(spec.name, config.host, spec.port, err as Error);
      }
    }
    // The outbound queue: mail for other servers, taken by whichever node is free.
    transport = createSmtpTransport({ config, dns: ctx.dns, log });
    queueWorker = startQueueWorker({ store, config, log, transport, hostname: config.hostname });
  } catch (err) {
    await stopAll().catch(() => {});
    throw err;
  }

  readiness.serving(store);
  const ports: Record<string, number> = { http: web.port };
  for (const l of listeners) ports[l.name] = l.port;
  return {
    ports,
    stop() {
      stopping ??= stopAll();
      return stopping;
    },
    reloadTls: () => tls!.reload(),
  };
}
